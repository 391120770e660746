"""A summary of the earlier messages, written by the model, sent in their place.

The person asks for it when a conversation outgrows the model's context: the messages that
no longer fit (or, when the window is not known, all but the newest exchanges) are sent
once more with a request to summarise them, and the answer becomes the conversation's
`Summary`, which requests then carry after the system prompt instead of those messages.
The messages themselves stay in the conversation, its file and the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chat_tui.client import ChatClient, TextDelta
from chat_tui.fitting import plan_request
from chat_tui.models import Conversation, Message, Summary

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
        cut = plan_request(conversation, None, window // 2).first_sent
    else:
        prompts = [i for i, message in enumerate(path) if message.role == "user"]
        cut = prompts[-KEPT_PROMPTS] if len(prompts) > KEPT_PROMPTS else 0
    return cut if cut > conversation.summary_end() else 0


def summary_request(
    conversation: Conversation, cut: int, window: int | None
) -> list[dict[str, Any]]:
    """The messages asking the model to summarise the first `cut` messages (and the summary
    that stood for the earliest of them), fitted to the window."""
    asking = replace(
        conversation,
        messages=[*conversation.messages[:cut], Message(role="user", content=INSTRUCTION)],
    )
    return plan_request(asking, None, window).messages


async def write_summary(
    conversation: Conversation,
    client: ChatClient,
    window: int | None,
    *,
    on_text: Callable[[str], None],
) -> Summary | None:
    """Ask the model for a summary of what no longer fits; None when there is nothing to
    summarise. Raises `ChatError`; a cancellation closes the request and carries on."""
    cut = summary_cut(conversation, window)
    if not cut:
        return None
    model = conversation.model
    text = ""
    stream = client.stream_reply(summary_request(conversation, cut, window), model)
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, TextDelta):
                text += event.text
                on_text(text)
    text = text.strip()
    if not text:
        return None
    return Summary(text=text, covers=conversation.messages[cut - 1].id, model=model)
