"""Filling one assistant message from a reply stream, by the same rules in the app and the shell.

Text and thinking are appended as they arrive, tool calls are put together from their pieces,
usage and timings are recorded, and however the stream ends the message says so: complete
(with a note when the server cut it short), failed (with the reason, partial text kept) or
stopped (cancelled; the cancellation carries on). However it ends, the stream is closed before
this returns, and with it the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Mapping

from chat_tui.client import (
    Finished,
    Notice,
    ReasoningDelta,
    ServedBy,
    Stopwatch,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from chat_tui.limits import MESSAGE_CHARS
from chat_tui.models import Message, ToolCall, Usage, new_call_id
from chat_tui.request_errors import ChatError
from chat_tui.safetext import one_line

ENDED_EMPTY = "The server ended the reply without any text or reason."
"""A stream that closed with no text, no finish reason and no `[DONE]`: not a finished reply
(some servers end so when the conversation is longer than their context)."""
CHECKPOINT_SECONDS = 1.0
"""A streaming reply is saved at least this often, so a crash loses at most a second."""


def _nothing(*_args: object) -> None:
    """The default for callbacks a caller does not need."""


async def fill_reply(
    message: Message,
    stream: AsyncGenerator[StreamEvent, None],
    *,
    watch: Stopwatch,
    on_text: Callable[[str], None] = _nothing,
    on_reasoning: Callable[[str], None] = _nothing,
    on_tool_call: Callable[[ToolCall], None] = _nothing,
    on_notice: Callable[[str], None] = _nothing,
    checkpoint: Callable[[], None] = _nothing,
    next_steps: Mapping[str, str] | None = None,
    max_chars: int = MESSAGE_CHARS,
    explain_empty: Callable[[], str | None] | None = None,
) -> None:
    """Consume `stream` into `message`.

    `on_text` gets each new piece of the answer, `on_reasoning` the whole thinking text so
    far, `on_tool_call` a tool call each time a piece of it arrives, `on_notice` what the
    client wants the person to know, `checkpoint` is called at most every CHECKPOINT_SECONDS,
    and `next_steps` words what the person can do after a failure in the caller's terms (its
    keys or flags), keyed by `ChatError.next_step` ("retry", "model", "context"). A reply
    that passes `max_chars` (text, thinking and tool arguments together) is stopped there.
    `explain_empty` words the error of a stream that ended with nothing, not even a finish
    reason, when the caller knows more, such as the conversation's size against the model's
    context (None from it, or no `explain_empty`: `ENDED_EMPTY` and the retry step).

    `stream` is closed on the way out, however this ends. A cancellation usually lands here,
    between two events, not inside the stream: left suspended, the stream would hold its
    connection open, and the server would go on generating into it, until the garbage
    collector got round to it.
    """
    steps = next_steps or {}
    received = 0
    usage = Usage()
    reason: str | None = None
    calls: dict[int, ToolCall] = {}
    last_checkpoint = time.monotonic()
    try:
        async with contextlib.aclosing(stream):
            async for event in stream:
                # Buffered chunks arrive without a real wait: give the screen and the
                # keyboard a turn, or a server sending flat out would freeze them until the
                # reply ends.
                await asyncio.sleep(0)
                received += _length(event)
                if received > max_chars:
                    raise _TooLong(max_chars)
                if isinstance(event, TextDelta):
                    watch.token_arrived()
                    message.content += event.text
                    on_text(event.text)
                elif isinstance(event, ReasoningDelta):
                    watch.token_arrived()
                    message.reasoning = (message.reasoning or "") + event.text
                    on_reasoning(message.reasoning)
                elif isinstance(event, ToolCallDelta):
                    watch.token_arrived()
                    on_tool_call(_add_piece(message, calls, event))
                elif isinstance(event, Notice):
                    on_notice(event.text)
                elif isinstance(event, ServedBy):
                    message.served_model = event.model
                elif isinstance(event, UsageReport):
                    usage.prompt_tokens = event.prompt_tokens
                    usage.completion_tokens = event.completion_tokens
                elif isinstance(event, Finished):
                    reason = event.reason
                if time.monotonic() - last_checkpoint >= CHECKPOINT_SECONDS:
                    last_checkpoint = time.monotonic()
                    checkpoint()
        message.usage = usage  # (what the server counted tells `explain_empty` the size)
        _settle(message, reason, steps.get("retry", ""), explain_empty)
    except ChatError as error:
        message.status = "failed"
        message.error = error.explain(steps)
    except _TooLong as error:
        message.status = "failed"
        message.error = (
            f"The reply passed {error.limit:,} characters, the most chat-tui keeps in one "
            "message: it was stopped there and its request closed. The text so far is kept."
        )
    except asyncio.CancelledError:
        message.status = "stopped"
        raise
    except Exception as error:  # a bug must not lose the reply or the prompt
        message.status = "failed"
        message.error = f"Unexpected error: {one_line(str(error)) or type(error).__name__}"
    finally:
        usage.first_token_seconds = watch.first_token
        usage.duration_seconds = watch.elapsed
        message.usage = usage


def _length(event: StreamEvent) -> int:
    if isinstance(event, TextDelta | ReasoningDelta):
        return len(event.text)
    if isinstance(event, ToolCallDelta):
        return len(event.arguments)
    return 0


class _TooLong(Exception):
    """A reply grew past the length a message may have (the server may never stop)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _add_piece(message: Message, calls: dict[int, ToolCall], piece: ToolCallDelta) -> ToolCall:
    """Add a piece to the call it belongs to (a new one for a new index); that call."""
    call = calls.get(piece.index)
    if call is None:
        call = calls[piece.index] = ToolCall(id=piece.id or new_call_id(), name="")
        message.tool_calls.append(call)
    if piece.name and piece.name != call.name:
        # Servers send the name whole in the first piece; a few repeat it, fewer split it.
        call.name = (
            piece.name
            if not call.name or piece.name.startswith(call.name)
            else (call.name + piece.name)
        )
    call.arguments += piece.arguments
    return call


def _settle(
    message: Message,
    finish_reason: str | None,
    retry_hint: str,
    explain_empty: Callable[[], str | None] | None,
) -> None:
    """Mark a reply whose stream ended normally: complete, cut short, or empty."""
    if not (message.content or message.reasoning or message.tool_calls):
        message.status = "failed"
        explained = None if finish_reason or explain_empty is None else explain_empty()
        said = "The server finished without sending any text." if finish_reason else ENDED_EMPTY
        message.error = explained or f"{said} {retry_hint}".strip()
        return
    message.status = "complete"
    if finish_reason == "length":
        message.error = "The reply was cut off: the model reached its length limit."
    elif finish_reason == "content_filter":
        message.error = "The server's content filter cut the reply short."
