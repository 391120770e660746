"""Bringing conversations in from a file: ChatGPT's export or chat-tui's own JSON.

Imported conversations keep their chat-tui id, or get one derived from the ChatGPT
conversation, so importing the same file again finds them already here. A conversation that
grew since the last import gains what is new (merged by message id, as two chat-tui windows
are), and nothing added to it here in the meantime is lost.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chat_tui.chatgpt import from_chatgpt, is_chatgpt_conversation
from chat_tui.merge import merge_conversations
from chat_tui.models import Conversation, SchemaError
from chat_tui.store import ConversationStore, StoreError

CHATGPT_FILE = "conversations.json"
"""The file inside ChatGPT's export archive that holds the conversations."""

Outcome = Literal["added", "updated", "unchanged", "failed"]
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Ids become file names and are printed: nothing else gets in from a file."""


class ImportFailed(Exception):
    """The file cannot be imported at all; the message says why in one line."""


@dataclass
class Parsed:
    """What a file holds, before anything is saved."""

    conversations: list[Conversation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Entries that could not be read, each described in one line."""
    empty: int = 0
    """ChatGPT conversations with nothing shown in them (all hidden or system messages)."""


@dataclass(frozen=True)
class Result:
    conversation_id: str
    title: str
    outcome: Outcome
    problem: str = ""


def read_file(name: str) -> Any:
    """The JSON in `name` ("-" for stdin), or in the `conversations.json` of a ChatGPT zip."""
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise ImportFailed(f"cannot read {name}: {error.strerror or error}") from None
    if zipfile.is_zipfile(io.BytesIO(raw)):
        raw = _from_archive(name, raw)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImportFailed(f"{name} is not JSON ({error})") from None


def _from_archive(name: str, raw: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        inside = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == CHATGPT_FILE]
        if not inside:
            raise ImportFailed(f"{name} is a zip archive without a {CHATGPT_FILE}")
        return archive.read(min(inside, key=len))


def parse(data: Any, name: str) -> Parsed:
    """Conversations from ChatGPT's export (a list) or chat-tui JSON (one, or a list)."""
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items) or not (
        all(is_chatgpt_conversation(item) or "messages" in item for item in items)
    ):
        raise ImportFailed(
            f"{name} is neither ChatGPT's {CHATGPT_FILE} nor a chat-tui conversation export"
        )
    parsed = Parsed()
    for position, item in enumerate(items, 1):
        try:
            conversation = from_chatgpt(item) if is_chatgpt_conversation(item) else _chat_tui(item)
        except (SchemaError, KeyError, TypeError, ValueError) as error:
            parsed.problems.append(f"conversation {position} of {name} skipped: {error}")
            continue
        if conversation is None:
            parsed.empty += 1
        else:
            parsed.conversations.append(conversation)
    return parsed


def _chat_tui(item: dict[str, Any]) -> Conversation:
    conversation = Conversation.from_dict(item)
    conversation.mark_interrupted()
    return conversation


def save(store: ConversationStore, imported: Conversation) -> Result:
    """Add `imported`, or merge it into the conversation with its id; never duplicate."""
    if not _SAFE_ID.fullmatch(imported.id):
        return Result(imported.id, imported.title, "failed", "its id is not a safe file name")
    try:
        if not store.exists(imported.id):
            store.save(imported)
            return Result(imported.id, imported.title, "added")
        existing = store.load(imported.id)
        merged = merge_conversations(existing, imported)
        if merged.to_dict() == existing.to_dict():
            return Result(imported.id, existing.title, "unchanged")
        store.save(merged)
        return Result(imported.id, merged.title, "updated")
    except StoreError as error:
        return Result(imported.id, imported.title, "failed", str(error))
