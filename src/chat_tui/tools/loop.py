"""A reply that may use tools: stream a turn; if the model asked for calls, settle each one
(run it if the person allows it), send the results back and stream the next turn, until the
model answers in text.

Every call ends with a `tool` message in the conversation, whatever became of it (done,
failed, denied, stopped, not run), so the file always holds a history a server accepts. The
person is asked through the caller's approver (`approvals.Approver`): the app's prompt, the
shell's y/a/n, or a refusal where nobody can be asked. A reply makes at most `max_rounds`
rounds of calls; the calls of one more are not run and the reply ends with a note.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from chat_tui import limits
from chat_tui.attachments import AttachmentError, AttachmentStore, read_parts
from chat_tui.client import ChatClient, Stopwatch
from chat_tui.config import ConfigError
from chat_tui.context_window import ContextWindows
from chat_tui.fitting import ended_empty, stream_within
from chat_tui.generation import Generation
from chat_tui.models import SETTLED_CALLS, Attachment, Conversation, Message, ToolCall
from chat_tui.replying import fill_reply
from chat_tui.safetext import one_line, valid_unicode
from chat_tui.tools.approvals import Approver, Decision, deny_all
from chat_tui.tools.catalogue import Catalogue
from chat_tui.tools.mcp_client import ToolServerError
from chat_tui.tools.toolbox import Toolbox

RESULT_SENT = 100_000
"""Characters of a tool's result sent to the model (each costs context on every later turn)."""
DENIED = "The person denied this call, so it was not run."
STOPPED_RUNNING = "The person stopped this call before it finished."
STOPPED_WAITING = "The person stopped the reply before this call ran."


def _nothing(*_args: object) -> None:
    """The default for hooks a caller does not need."""


@dataclass
class ReplyHooks:
    """What a caller hears while a reply with tools goes on."""

    on_text: Callable[[str], None] = _nothing
    on_reasoning: Callable[[str], None] = _nothing
    on_message: Callable[[Message], None] = _nothing
    """A message joined the conversation: an assistant turn (still empty) or a tool result."""
    on_call: Callable[[ToolCall], None] = _nothing
    """A call grew (a piece arrived) or changed status."""
    on_notice: Callable[[str], None] = _nothing
    checkpoint: Callable[[], None] = _nothing
    on_fitted: Callable[[Message], None] = _nothing
    """A reply's request was planned (again): its `sent_from` says where it begins."""


async def reply_with_tools(
    conversation: Conversation,
    client: ChatClient,
    *,
    model: str,
    toolbox: Toolbox | None,
    servers: Collection[str] | None = None,
    approve: Approver = deny_all,
    max_rounds: int,
    hooks: ReplyHooks | None = None,
    next_steps: Mapping[str, str] | None = None,
    reply: Message | None = None,
    windows: ContextWindows | None = None,
    attachments: AttachmentStore | None = None,
    defaults: Generation | None = None,
) -> Message:
    """Stream turns into `conversation` until one needs no tools; the last assistant message.

    The tools offered are those of `servers` (by default the toolbox's enabled ones). Without
    a toolbox no tools are offered, and a call the model makes anyway is answered with
    "there is no such tool". The first turn fills `reply` when given (an empty assistant
    message already last in the conversation: a new version of a reply), else a new one. A
    cancellation stops the reply where it is (the stream closed, a running call cancelled at
    its server, the calls left marked stopped) and carries on.

    The prompts' attachments are read from `attachments` (in a thread) once per reply; a
    copy that is missing or changed fails the reply before anything is sent.

    Each turn is asked for with the conversation's generation settings over `defaults`
    (config.toml's for its provider and model), and records them.

    With `windows`, each request carries the messages that fit the model's context
    (`fitting.stream_within`); without, the whole path.
    """
    hooks = hooks or ReplyHooks()
    catalogue = None
    if toolbox is not None:
        catalogue = await toolbox.catalogue(servers)
        for problem in toolbox.take_problems():
            hooks.on_notice(problem)
    settings = conversation.settings.over(defaults or Generation())
    rounds = 0
    parts: Mapping[Attachment, dict[str, Any]] = {}
    while True:
        message = reply if reply is not None and rounds == 0 else conversation.add_reply(model)
        message.settings = settings
        hooks.on_message(message)
        if rounds == 0 and (needed := conversation.attachments_sent()):
            try:
                parts = await read_parts(attachments, needed)
            except AttachmentError as error:
                message.status = "failed"
                message.error = str(error)
                return message
        offered = catalogue.specs() if catalogue and client.accepts_tools else None
        if windows is None:
            request = conversation.api_messages(upto=len(conversation.messages) - 1, parts=parts)
            stream = client.stream_reply(request, model, offered, settings)
        else:
            stream = stream_within(
                conversation,
                client,
                windows,
                model=model,
                reply=message,
                tools=offered,
                on_fitted=hooks.on_fitted,
                settings=settings,
                parts=parts,
            )
        explain_empty = None
        if windows is not None:  # a reply that ended empty may have outgrown the context
            steps = next_steps or {}
            explain_empty = partial(
                ended_empty, conversation, message, client, windows, model, steps
            )
        await fill_reply(
            message,
            stream,
            watch=Stopwatch(),
            on_text=hooks.on_text,
            on_reasoning=hooks.on_reasoning,
            on_tool_call=hooks.on_call,
            on_notice=hooks.on_notice,
            checkpoint=hooks.checkpoint,
            next_steps=next_steps,
            explain_empty=explain_empty,
        )
        if message.status != "complete" or not message.tool_calls:
            return message
        if rounds >= max_rounds:
            _not_run(conversation, message, max_rounds, hooks)
            return message
        rounds += 1
        await _settle_calls(conversation, message, catalogue, toolbox, approve, hooks)


async def _settle_calls(
    conversation: Conversation,
    message: Message,
    catalogue: Catalogue | None,
    toolbox: Toolbox | None,
    approve: Approver,
    hooks: ReplyHooks,
) -> None:
    """Decide and run the calls of `message` one by one, each answered by a tool message."""
    try:
        for call in message.tool_calls:
            answer = await _settle(call, catalogue, toolbox, approve, hooks)
            _add_result(conversation, call, answer, hooks)
    except asyncio.CancelledError:
        for call in message.tool_calls:
            if call.status not in SETTLED_CALLS:
                running = call.status == "running"
                call.status = "stopped"
                call.error = "stopped by the person" if running else "the reply was stopped"
                hooks.on_call(call)
                _add_result(
                    conversation, call, STOPPED_RUNNING if running else STOPPED_WAITING, hooks
                )
        raise


async def _settle(
    call: ToolCall,
    catalogue: Catalogue | None,
    toolbox: Toolbox | None,
    approve: Approver,
    hooks: ReplyHooks,
) -> str:
    """Run `call` if it can and may be run; what the model is told about it."""
    tool = catalogue.find(call.name) if catalogue is not None else None
    if tool is None or toolbox is None:
        return _failed(call, f"there is no tool named {one_line(call.name, 80)!r}", hooks)
    call.server, call.tool = tool.server, tool.tool
    arguments = _arguments(call.arguments)
    if isinstance(arguments, str):
        return _failed(call, arguments, hooks)
    hooks.on_call(call)
    try:
        decision = await toolbox.approvals.decide(call, approve)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a broken prompt must not run the call, nor end the reply
        hooks.on_notice(f"could not ask about {tool.tool}: {one_line(str(error), 200)}")
        decision = Decision.DENY
    if decision is Decision.DENY:
        call.status, call.error = "denied", call.error or "denied by the person"
        hooks.on_call(call)
        return DENIED
    if decision is Decision.ALWAYS:
        try:
            toolbox.approvals.always(tool.server, tool.tool)
        except ConfigError as error:
            hooks.on_notice(f"{tool.tool} is allowed until chat-tui exits, but {error}")
    call.status = "running"
    hooks.on_call(call)
    hooks.checkpoint()
    started = time.monotonic()
    try:
        result = await toolbox.run(tool, arguments)
    except ToolServerError as error:
        return _failed(call, str(error), hooks)
    finally:
        call.duration_seconds = time.monotonic() - started
        for problem in toolbox.take_problems():
            hooks.on_notice(problem)
    text = valid_unicode(result.text)
    call.result = _cut(text, limits.TOOL_RESULT_CHARS, "kept")
    call.status = "error" if result.is_error else "done"
    call.error = (one_line(text, 300) or "the tool reported an error") if result.is_error else None
    hooks.on_call(call)
    return _cut(text, RESULT_SENT, "sent")


def _failed(call: ToolCall, why: str, hooks: ReplyHooks) -> str:
    call.status, call.error = "error", why
    hooks.on_call(call)
    return f"Error: {why}"


def _not_run(conversation: Conversation, message: Message, limit: int, hooks: ReplyHooks) -> None:
    """The round limit is reached: the calls of `message` are answered without running."""
    why = f"not run: the reply reached its limit of {limit} rounds of tool calls"
    for call in message.tool_calls:
        call.status, call.error = "skipped", why
        hooks.on_call(call)
        _add_result(
            conversation,
            call,
            f"Not run: the reply reached its limit of {limit} rounds of tool calls.",
            hooks,
        )
    message.error = (
        f"Stopped after {limit} rounds of tool calls (max_tool_rounds in config.toml); "
        "the last calls were not run."
    )


def _add_result(conversation: Conversation, call: ToolCall, text: str, hooks: ReplyHooks) -> None:
    result = Message(role="tool", content=text, tool_call_id=call.id)
    conversation.messages.append(result)
    conversation.touch()
    hooks.on_message(result)
    hooks.checkpoint()


def _arguments(text: str) -> dict[str, Any] | str:
    """The arguments as a JSON object, or why they are not one."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        return f"the arguments are not valid JSON ({error})"
    if not isinstance(value, dict):
        return "the arguments are not a JSON object"
    return value


def _cut(text: str, limit: int, what: str) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit:,} more characters of the result not {what}]"
