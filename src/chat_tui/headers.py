"""What the sidebar lists of a conversation, read from the first bytes of its file.

A conversation file starts with its title and times, before its messages. Reading only
that much lets the newest conversations be listed at once when the index is missing or far
behind (a new machine, a restored backup, a sync that changed hundreds of files), while
the index reads every file whole in the background. Nothing about the file is trusted: at
most `HEADER_BYTES` are read, only top-level text and number fields are parsed (no
nesting), and a file whose header cannot be read this way is simply left to the index.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from chat_tui.limits import parse_json
from chat_tui.models import SCHEMA_VERSION

HEADER_BYTES = 16 * 1024
"""Bytes read from the start of a file at most: chat-tui writes the title and times in the
first few hundred; a title longer than this leaves the conversation to the index."""
FIRST_READ = 2048
"""Bytes read first: enough for nearly every header, and a fraction of a typical file."""

_DECODER = json.JSONDecoder()
_HEADER_FIELDS = ("id", "title", "created_at", "updated_at", "model")
"""Fields a header must hold when it ends before the messages (a long field cut it short)."""


@dataclass(frozen=True)
class Header:
    title: str
    created_at: str
    updated_at: str
    model: str
    read_only: bool
    """Written by a newer chat-tui: shown, never written back."""


def read_header(path: Path) -> tuple[os.stat_result, Header] | None:
    """The file's status and header, or None if it is not a regular file whose first
    `HEADER_BYTES` hold a readable header. Never waits on a pipe, never reads more."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None
        prefix = os.read(fd, FIRST_READ)
        header = parse_header(prefix)
        if header is None and len(prefix) == FIRST_READ:
            prefix += os.read(fd, HEADER_BYTES - FIRST_READ)
            header = parse_header(prefix)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if header is None else (status, header)


def parse_header(prefix: bytes) -> Header | None:
    """The header in the first bytes of a conversation file (None if there is none)."""
    fields = _fields_before_messages(prefix)
    if fields is None:
        fields = _fields_in_order(prefix)
    if fields is None:
        return None
    version = fields.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return None
    if not isinstance(fields.get("id"), str) or not fields["id"]:
        return None
    created_at = _text(fields, "created_at")
    return Header(
        title=_text(fields, "title"),
        created_at=created_at,
        updated_at=_text(fields, "updated_at") or created_at,
        model=_text(fields, "model"),
        read_only=version > SCHEMA_VERSION,
    )


def _fields_before_messages(prefix: bytes) -> dict[str, object] | None:
    """The object before a top-level `"messages"` key, parsed whole at C speed (chat-tui's
    own files), or None. A quote inside a JSON string is escaped, so `"messages"` is a key
    or a whole string; cut anywhere but after a top-level field, the text is not JSON."""
    cut = prefix.find(b'"messages"')
    head = prefix[:cut].rstrip()
    after = prefix[cut + len(b'"messages"') :].lstrip()
    if cut < 0 or not head.endswith(b",") or not after.startswith(b":"):
        return None
    if not after[1:].lstrip().startswith(b"["):
        return None  # not a list of messages: from_dict refuses it
    try:
        data = parse_json(head[:-1] + b"}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _fields_in_order(prefix: bytes) -> dict[str, object] | None:
    """Top-level fields read one by one up to the first array or object (the messages)
    or the end of `prefix`; None unless that is a whole header or holds what is shown."""
    try:
        # Not final: a character cut in two at the end of the prefix is left out.
        text = codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
    except UnicodeDecodeError:
        return None
    fields: dict[str, object] = {}
    complete = False
    with contextlib.suppress(ValueError, IndexError):
        complete = _read_fields(text, fields)
    if complete or all(name in fields for name in _HEADER_FIELDS):
        return fields
    return None


def _read_fields(text: str, fields: dict[str, object]) -> bool:
    """Fill `fields` from the object at the start of `text`; whether the header is whole
    (the messages, or the object's end, were reached). Raises ValueError or IndexError
    where the text stops being a header."""
    at = _skip_space(text, 0)
    if text[at] != "{":
        raise ValueError("not an object")
    while True:
        at = _skip_space(text, at + 1)
        key, at = _DECODER.raw_decode(text, at)
        if not isinstance(key, str):
            raise ValueError("not a key")
        at = _skip_space(text, at)
        if text[at] != ":":
            raise ValueError("no colon")
        at = _skip_space(text, at + 1)
        if text[at] in "[{":
            return key == "messages" and text[at] == "["
        value, at = _DECODER.raw_decode(text, at)
        if at == len(text):
            raise ValueError("cut short")  # a number may go on past the prefix
        fields[key] = value  # the last of two equal keys counts, as for json.loads
        at = _skip_space(text, at)
        if text[at] == "}":
            return True
        if text[at] != ",":
            raise ValueError("no comma")


def _skip_space(text: str, at: int) -> int:
    while text[at] in " \t\n\r":
        at += 1
    return at


def _text(fields: dict[str, object], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""
