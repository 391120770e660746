"""A summary of the earlier messages, written by the model, sent in their place.

The person asks for it when a conversation outgrows the model's context: the messages that
no longer fit (or, when the window is not known, all but the newest exchanges) are sent
once more with a request to summarise them, and the answer becomes the conversation's
`Summary`, which requests then carry after the system prompt instead of those messages.
The messages themselves stay in the conversation, its file and the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from chat_tui.attachments import AttachmentStore, read_parts
from chat_tui.client import ChatClient, TextDelta
from chat_tui.fitting import estimated_parts, plan_request
from chat_tui.models import Attachment, Conversation, Message, Summary

INSTRUCTION = (
    "Summarise the conversation so far, so that it can go on without the messages above: "
    "the facts, decisions, names, numbers and code that matter, what was asked and answered, "
    "and what is still open. Write only the summary, as compact notes."
)
KEPT_PROMPTS = 2
"""When the window is not known, the newest prompts (and their replies) left as they are."""


def summary_cut(conversation: Conversation, window: int | None) -> int:
    """How many messages of the path a new summary stands for: those that do not fit in
    half the window (room to go on), else all before the newest KEPT_PROMPTS prompts; 0
    when that is no more than the summary already covers."""
    path = conversation.messages
    if window is not None:
        parts = estimated_parts(conversation)
        cut = plan_request(conversation, None, window // 2, parts=parts).first_sent
    else:
        prompts = [i for i, message in enumerate(path) if message.role == "user"]
        cut = prompts[-KEPT_PROMPTS] if len(prompts) > KEPT_PROMPTS else 0
    return cut if cut > conversation.summary_end() else 0


def summary_request(
    conversation: Conversation,
    cut: int,
    window: int | None,
    parts: Mapping[Attachment, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The messages asking the model to summarise the first `cut` messages (and the summary
    that stood for the earliest of them), fitted to the window; `parts` are their
    attachments' content parts."""
    asking = replace(
        conversation,
        messages=[*conversation.messages[:cut], Message(role="user", content=INSTRUCTION)],
    )
    return plan_request(asking, None, window, parts=parts).messages


async def write_summary(
    conversation: Conversation,
    client: ChatClient,
    window: int | None,
    *,
    on_text: Callable[[str], None],
    attachments: AttachmentStore | None = None,
) -> Summary | None:
    """Ask the model for a summary of what no longer fits; None when there is nothing to
    summarise. The attachments of those messages are read from `attachments` and sent too.
    Raises `ChatError`, or `AttachmentError` for a copy missing from the store; a
    cancellation closes the request and carries on."""
    cut = summary_cut(conversation, window)
    if not cut:
        return None
    model = conversation.model
    needed = conversation.attachments_sent(cut)
    parts = await read_parts(attachments, needed) if needed else {}
    text = ""
    stream = client.stream_reply(summary_request(conversation, cut, window, parts), model)
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, TextDelta):
                text += event.text
                on_text(text)
    text = text.strip()
    if not text:
        return None
    return Summary(text=text, covers=conversation.messages[cut - 1].id, model=model)
