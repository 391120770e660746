"""Conversations as Markdown (to read and share) or JSON (to back up and import again).

Plain functions of conversations, so the shell's `export` and the app's command palette
produce the same files. Markdown shows the visible path of a conversation and is made to read
well on GitHub (a tool call with its arguments and its result, long results cut, each
attachment named); JSON is the conversation file's own format, alternatives and whole tool
results and all, and can carry the attachments' bytes (`attachment_data`, base64 by digest)
so that the export is complete without the data directory.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

from chat_tui.attachments import AttachmentError, AttachmentStore, attachments_of
from chat_tui.limits import size_text
from chat_tui.models import Attachment, Conversation, Message, ToolCall
from chat_tui.safetext import display_text, one_line
from chat_tui.timefmt import date_time

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>#|~!])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_STATUS_NOTES = {
    "stopped": "*■ Stopped: the reply was cut short.*",
    "interrupted": "*⚠ Interrupted: chat-tui was closed while this reply was arriving.*",
    "streaming": "*⚠ Still arriving when this was exported.*",
}
MARKDOWN_RESULT = 4_000
"""Characters of a tool's result a Markdown export shows (the JSON export has all of it)."""
_CALL_OUTCOMES = {
    "pending": "not run",
    "running": "running when this was exported",
    "done": "done",
    "error": "failed",
    "denied": "denied",
    "stopped": "stopped",
    "skipped": "not run",
}
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Characters json.dumps leaves raw that a terminal could obey (C1 controls, bidi overrides)."""


def conversation_to_markdown(conversation: Conversation) -> str:
    """One conversation: a title heading, a metadata line, then one section per message."""
    title = _inline(conversation.title or "Untitled conversation")
    parts = [f"# {title}", _metadata_line(conversation)]
    if conversation.system_prompt.strip():
        quoted = "\n".join(f"> {line}" for line in _text(conversation.system_prompt).split("\n"))
        parts.append(f"> **System prompt**\n>\n{quoted}")
    answered = {call.id for m in conversation.messages for call in m.tool_calls}
    parts.extend(
        _message_section(message)
        for message in conversation.messages
        if message.role != "tool" or message.tool_call_id not in answered
    )
    return "\n\n".join(parts) + "\n"


def conversations_to_markdown(conversations: Iterable[Conversation]) -> str:
    """Several conversations in one document, separated by horizontal rules."""
    return "\n---\n\n".join(conversation_to_markdown(c) for c in conversations)


def conversation_to_json(
    conversation: Conversation,
    embed: AttachmentStore | None = None,
    problems: list[str] | None = None,
) -> str:
    """The conversation exactly as its file holds it (chat-tui can import it again), with
    the bytes of its attachments when `embed` is the store to read them from."""
    return json_text(conversation_data(conversation, embed, problems))


def conversations_to_json(
    conversations: Iterable[Conversation],
    embed: AttachmentStore | None = None,
    problems: list[str] | None = None,
) -> str:
    """A JSON list of conversations (what `export --all --format json` writes)."""
    return json_text([conversation_data(c, embed, problems) for c in conversations])


def conversation_data(
    conversation: Conversation,
    embed: AttachmentStore | None = None,
    problems: list[str] | None = None,
) -> dict[str, Any]:
    """`conversation.to_dict()`, plus `attachment_data` (digest -> base64) when embedding.
    A copy that cannot be read is left out, and said in `problems`."""
    data = conversation.to_dict()
    if embed is None:
        return data
    embedded: dict[str, str] = {}
    for attachment in attachments_of(conversation.messages):
        if attachment.sha256 in embedded:
            continue
        try:
            embedded[attachment.sha256] = base64.b64encode(embed.bytes_of(attachment)).decode()
        except AttachmentError as error:
            if problems is not None:
                problems.append(f"{conversation.id}: {error}")
    if embedded:
        data["attachment_data"] = embedded
    return data


def json_text(data: Any) -> str:
    """Readable JSON (unicode kept) that is still harmless when printed to a terminal."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text) + "\n"


def _metadata_line(conversation: Conversation) -> str:
    count = len(conversation.messages)
    details = [
        _inline(conversation.model),
        f"started {date_time(conversation.created_at)}",
        f"last active {date_time(conversation.updated_at)}",
        f"{count} message{'s' if count != 1 else ''}",
        f"id `{one_line(conversation.id)}`",
    ]
    return "*" + " · ".join(d for d in details if d) + "*"


def _message_section(message: Message) -> str:
    heading = [{"user": "You", "assistant": "Assistant", "tool": "Tool result"}[message.role]]
    if message.role == "assistant" and message.model:
        heading.append(_inline(message.model))
    if message.created_at:
        heading.append(date_time(message.created_at))
    if message.variant_count > 1:
        heading.append(f"version {message.variant + 1} of {message.variant_count}")
    parts = ["## " + " · ".join(heading)]
    if message.reasoning:
        reasoning = _closed(_text(message.reasoning))
        parts.append(f"<details>\n<summary>Thinking</summary>\n\n{reasoning}\n\n</details>")
    if message.content and message.role == "tool":
        parts.append(_fenced(_text(message.content), "text"))
    elif message.content:
        parts.append(_closed(_text(message.content)))
    if message.attachments:
        parts.append(_attachments_section(message.attachments))
    parts.extend(_call_section(call) for call in message.tool_calls)
    if message.status == "failed":
        parts.append(f"> **Failed:** {_inline(message.error or 'the reply failed')}")
    elif message.status in _STATUS_NOTES:
        parts.append(_STATUS_NOTES[message.status])
    if message.status == "complete" and message.error:
        parts.append(f"> **Note:** {_inline(message.error)}")
    return "\n\n".join(parts)


def _attachments_section(attachments: list[Attachment]) -> str:
    """Each attachment named, with its kind and size (its content is in the JSON export)."""
    lines = [
        f"- {_inline(attachment.name)} · {attachment.kind} · {size_text(attachment.size)}"
        for attachment in attachments
    ]
    return "**Attached:**\n\n" + "\n".join(lines)


def _call_section(call: ToolCall) -> str:
    """A call: what was called, how it went, its arguments, and its result (cut if long)."""
    what = f"{call.server} · {call.tool}" if call.server and call.tool else call.name
    outcome = _CALL_OUTCOMES[call.status]
    if call.duration_seconds is not None and call.status in ("done", "error", "stopped"):
        outcome += f" in {call.duration_seconds:.2f} s"
    parts = [
        f"**Tool call:** {_inline(what)} · {outcome}",
        _fenced(_pretty(call.arguments), "json"),
    ]
    if call.error and call.status != "done":
        parts.append(f"> **{_CALL_OUTCOMES[call.status].capitalize()}:** {_inline(call.error)}")
    if call.result is not None:
        result = _text(call.result)
        shown = _fenced(result[:MARKDOWN_RESULT], "text")
        if len(result) > MARKDOWN_RESULT:
            rest = len(result) - MARKDOWN_RESULT
            shown += f"\n\n*… {rest:,} more characters (the JSON export has the whole result)*"
        size = f"{len(call.result):,} characters"
        parts.append(f"<details>\n<summary>Result ({size})</summary>\n\n{shown}\n\n</details>")
    return "\n\n".join(parts)


def _pretty(arguments: str) -> str:
    """Arguments as indented JSON, or as the model sent them when they are not JSON."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False, indent=2)
    except (ValueError, RecursionError):
        return _text(arguments)


def _fenced(text: str, language: str) -> str:
    """`text` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{display_text(text)}\n{fence}"


def _text(text: str) -> str:
    """Message text as written, minus anything a terminal would obey, without trailing space."""
    return display_text(text).rstrip()


def _inline(text: str) -> str:
    """Plain text on one line, with Markdown punctuation escaped so it shows as typed."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", one_line(text))


def _closed(text: str) -> str:
    """`text` with a code fence left open (a stopped reply) closed, so it cannot swallow the
    rest of the document."""
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match is None:
            continue
        marker = match.group(1)
        if fence is None:
            fence = marker
        elif marker[0] == fence[0] and len(marker) >= len(fence) and not match.group(2).strip():
            fence = None
    return text if fence is None else f"{text}\n{fence}"
