"""What a request sends when the whole conversation would not fit the model's context.

The system prompt (with the summary of earlier messages, when there is one), then the newest
messages that fit, leaving room for the reply. A request always carries the newest prompt and
what followed it, and begins at a prompt: never at a reply without its question, nor at a
tool result without its call. Nothing is removed from the conversation; the reply records
where its request began (`Message.sent_from`), which the app marks in the log.

Tokens are estimated from the text (`estimate_tokens`), as no tokenizer of every model is at
hand; the estimate leans high for text that is not English, so a request errs on the short
side. When a server refuses anyway, `stream_within` learns the window from its answer and
sends again, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chat_tui.client import ChatClient, Notice, StreamEvent
from chat_tui.context_window import ContextWindows
from chat_tui.generation import Generation
from chat_tui.models import Attachment, Conversation, Message
from chat_tui.replying import ENDED_EMPTY
from chat_tui.request_errors import ChatError

MESSAGE_OVERHEAD = 4
"""Tokens a chat template adds around each message (role markers, separators)."""
REPLY_RESERVE = 2048
"""Tokens left for the reply when no `max_tokens` says how long it may be (at most a quarter
of the window, so a small window still carries some conversation)."""
SMALLEST_WINDOW = 2048
"""No server in use starts with a smaller context window (Ollama's smallest default): a
request that fits in it, with its reply's room, is sent at once while the window is still
being asked for (a first prompt does not wait for two more requests); a server that refuses
it anyway teaches the window, as below."""
REFITTED = "The conversation is longer than"
"""How the notice of a request sent again with fewer messages begins."""
IMAGE_TOKENS = 1024
"""What an attached image is counted as: about what vision models take for one at their
usual detail (the request carries it as base64, whose length says nothing of this)."""
RETRY_SHARE = 0.75
"""When a server refuses a request as too long without saying its window, the next one is
planned for this share of what was sent."""


def text_tokens(text: str) -> int:
    """Roughly the tokens in `text`: a quarter of its UTF-8 bytes, plus half a token per
    byte beyond the first of each character (other scripts take more tokens per letter)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    return math.ceil(size / 4 + (size - len(text)) / 2)


def estimate_tokens(messages: Iterable[dict[str, Any]]) -> int:
    """Roughly the tokens a request's `messages` take."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD + _content_tokens(message.get("content"))
        calls = message.get("tool_calls")
        if calls:
            total += text_tokens(json.dumps(calls, ensure_ascii=False))
    return total


def _content_tokens(content: Any) -> int:
    """A message's text, or its content parts (a prompt with attachments)."""
    if isinstance(content, str):
        return text_tokens(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url":
            total += IMAGE_TOKENS
        elif isinstance(part.get("text"), str):
            total += text_tokens(part["text"])
        elif isinstance(part.get(_ESTIMATE), int):
            total += part[_ESTIMATE]
    return total


_ESTIMATE = "estimated_tokens"


def estimated_parts(conversation: Conversation) -> dict[Attachment, dict[str, Any]]:
    """Stand-ins for the attachments' content parts, for an estimate that does not read the
    files (the status line): a text file counted from its size. Never sent."""
    return {
        attachment: {"type": "image_url"}
        if attachment.kind == "image"
        else {"type": "text", _ESTIMATE: math.ceil(attachment.size / 4)}
        for attachment in conversation.attachments_sent()
    }


def reply_reserve(window: int, max_tokens: int | None = None) -> int:
    """Tokens kept free for the reply."""
    return max_tokens if max_tokens else min(REPLY_RESERVE, window // 4)


@dataclass(frozen=True)
class Plan:
    """One request's messages, and which messages of the path they begin at."""

    messages: list[dict[str, Any]]
    first_sent: int
    """Position of the first message of the path the request carries (after the summary)."""
    left_out: bool
    """Earlier messages neither sent nor stood for by the summary."""
    tokens: int
    """The request's estimated size."""
    costs: list[int]
    """Estimated tokens of what each message of the path adds (`Conversation.api_turns`)."""


def plan_request(
    conversation: Conversation,
    upto: int | None,
    window: int | None,
    *,
    max_tokens: int | None = None,
    parts: Mapping[Attachment, dict[str, Any]] | None = None,
) -> Plan:
    """The messages of a request for the path up to `upto`, fitted to `window` (all of them
    when the window is not known or they fit), leaving `max_tokens` for the reply when set.
    `parts` are the attachments' content parts (`Conversation.api_turns`)."""
    turns = conversation.api_turns(upto, parts)
    path = conversation.messages[: len(turns)]
    covered = conversation.summary_end()
    newest_prompt = max(
        (i for i, message in enumerate(path) if message.role == "user"), default=len(path)
    )
    covered = min(covered, newest_prompt)
    summary = conversation.summary.text if covered and conversation.summary else ""
    system = conversation.system_messages(summary)
    costs = [estimate_tokens(turn) for turn in turns]
    system_tokens = estimate_tokens(system)
    start = covered
    if window is not None:
        budget = window - reply_reserve(window, max_tokens) - system_tokens
        if sum(costs[covered:]) > budget:
            start = max(newest_prompt, covered)
            used = sum(costs[start:])
            for position in range(start - 1, covered - 1, -1):
                used += costs[position]
                if used > budget:
                    break
                if path[position].role == "user":
                    start = position
    messages = [*system, *(m for turn in turns[start:] for m in turn)]
    # The estimate adds up message by message: the request's is the parts' sum.
    return Plan(messages, start, start > covered, system_tokens + sum(costs[start:]), costs)


def in_context(conversation: Conversation, window: int | None) -> int:
    """Roughly the tokens the next request would take before its new prompt: what the server
    counted for the last reply (prompt and reply), plus an estimate of what came after it;
    the estimate alone when no reply reported its usage."""
    plan = plan_request(conversation, None, window, parts=estimated_parts(conversation))
    path = conversation.messages
    for position in range(len(plan.costs) - 1, plan.first_sent - 1, -1):
        usage = path[position].usage
        if path[position].role == "assistant" and usage and usage.prompt_tokens:
            counted = usage.prompt_tokens + (usage.completion_tokens or 0)
            return counted + sum(plan.costs[position + 1 :])
    return plan.tokens


def context_start(conversation: Conversation) -> str | None:
    """The id of the first message the last reply was sent, when earlier ones were left
    out (where the log marks "earlier messages are not sent to the model")."""
    for message in reversed(conversation.messages):
        if message.role == "assistant":
            return message.sent_from
    return None


def tokens_short(tokens: int) -> str:
    """`950`, `3.1k`, `8k`, `128k`: a token count for the status line."""
    if tokens < 1000:
        return str(tokens)
    thousands = tokens / 1000
    if thousands >= 100 or thousands == int(thousands):
        return f"{round(thousands)}k"
    return f"{thousands:.1f}k".replace(".0k", "k")


def _mark(message: Message, conversation: Conversation, plan: Plan) -> None:
    message.sent_from = conversation.messages[plan.first_sent].id if plan.left_out else None


async def stream_within(
    conversation: Conversation,
    client: ChatClient,
    windows: ContextWindows,
    *,
    model: str,
    reply: Message,
    tools: list[dict[str, Any]] | None,
    on_fitted: Callable[[Message], None],
    settings: Generation | None = None,
    parts: Mapping[Attachment, dict[str, Any]] | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """Stream `reply` (last on the path) with the messages before it that fit the window.

    A server that refuses the request as too long teaches the window (from its answer, or
    a quarter less than was sent); the request is planned again and sent once more, with a
    `Notice` saying so. A second refusal is the reply's error. `on_fitted` hears each time
    the reply's `sent_from` is set. The reply's room is the `max_tokens` of `settings` when
    one is set (the request asks for no more), else `REPLY_RESERVE`.
    """
    settings = settings or Generation()
    max_tokens = settings.max_tokens
    upto = len(conversation.messages) - 1
    # The tools' descriptions take their share of the window on every request.
    offered = text_tokens(json.dumps(tools, ensure_ascii=False)) if tools else 0
    window = windows.known(client, model)
    learning = None if window else asyncio.ensure_future(windows.window_for(client, model))
    try:
        if learning is not None:  # a request that fits any window goes while it is asked
            plan = plan_request(conversation, upto, None, max_tokens=max_tokens, parts=parts)
            room = reply_reserve(SMALLEST_WINDOW, max_tokens)
            if plan.tokens + offered + room > SMALLEST_WINDOW:
                window = await learning
        if window is not None:
            window = max(window - offered, 1)
            plan = plan_request(conversation, upto, window, max_tokens=max_tokens, parts=parts)
        _mark(reply, conversation, plan)
        on_fitted(reply)
        refused: ChatError | None = None
        try:
            async with contextlib.aclosing(
                client.stream_reply(plan.messages, model, tools, settings)
            ) as first:
                async for event in first:
                    yield event
        except ChatError as error:
            if error.kind != "context_length":
                raise
            refused = error
        if refused is None:
            return
        learned = refused.window
        if learned is not None:
            await windows.learn(client, model, learned)
        smaller = max(learned - offered, 1) if learned else math.floor(plan.tokens * RETRY_SHARE)
        retry = plan_request(conversation, upto, smaller, max_tokens=max_tokens, parts=parts)
        if retry.first_sent <= plan.first_sent:
            raise refused  # nothing more could be left out: the newest prompt alone is too long
        _mark(reply, conversation, retry)
        on_fitted(reply)
        size = f" ({learned:,} tokens)" if learned else ""
        yield Notice(
            f"{REFITTED} {model}'s context{size}: sent again with the "
            "newest messages that fit; earlier ones are not sent to the model"
        )
        async with contextlib.aclosing(
            client.stream_reply(retry.messages, model, tools, settings)
        ) as second:
            async for event in second:
                yield event
    finally:
        if learning is not None and not learning.done():
            learning.cancel()  # a short reply, or a stopped one: no request outlives it


NEAR_FULL = 0.8
"""Share of the window from which the status line warns, and an empty reply is blamed on the
conversation's length."""


def ended_empty(
    conversation: Conversation,
    reply: Message,
    client: ChatClient,
    windows: ContextWindows,
    model: str,
    next_steps: Mapping[str, str],
) -> str | None:
    """Why a reply may have ended without text or reason, and what to do: a retry cannot
    help a conversation that has outgrown the model's context. None when the conversation
    fits with room to spare: nothing to add to the plain explanation."""
    window = windows.known(client, model)
    used = in_context(conversation, window)
    if window is not None and used < NEAR_FULL * window and reply.sent_from is None:
        return None
    if window is None:
        why = (
            "If the conversation is long, it may not fit the model's context (set "
            "context_window in config.toml to have chat-tui fit it)."
        )
    else:
        why = f"The conversation is probably too long for the model's context ({window:,} tokens)."
    return " ".join(part for part in (ENDED_EMPTY, why, next_steps.get("context", "")) if part)
