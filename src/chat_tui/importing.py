"""Bringing conversations in from a file: ChatGPT's export or chat-tui's own JSON.

Imported conversations keep their chat-tui id, or get one derived from the ChatGPT
conversation, so importing the same file again finds them already here. A conversation that
grew since the last import gains what is new (merged by message id, as two chat-tui windows
are), and nothing added to it here in the meantime is lost. Attachments embedded in an export
(`attachment_data`) are stored again once their digest, size and kind check out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Literal

from chat_tui import limits
from chat_tui.attachments import (
    AttachmentError,
    PendingAttachment,
    attachments_of,
    limit_for,
    media_type_of,
)
from chat_tui.chatgpt import from_chatgpt, is_chatgpt_conversation
from chat_tui.limits import (
    ARCHIVE_EXPANDED_BYTES,
    ARCHIVE_RATIO,
    ARCHIVE_RATIO_FROM,
    IMPORT_FILE_BYTES,
    MESSAGE_CHARS,
    TooLarge,
    parse_json,
    read_at_most,
    size_text,
)
from chat_tui.merge import merge_conversations
from chat_tui.models import Attachment, Conversation, Message, SchemaError
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
    attachments: dict[str, PendingAttachment] = field(default_factory=dict)
    """Embedded attachments that check out, by digest, to store before the conversations."""


@dataclass(frozen=True)
class Result:
    conversation_id: str
    title: str
    outcome: Outcome
    problem: str = ""


def read_file(name: str) -> Any:
    """The JSON in `name` ("-" for stdin), or in the `conversations.json` of a ChatGPT zip."""
    try:
        if name == "-":
            return _read(name, io.BytesIO(read_at_most(sys.stdin.buffer, IMPORT_FILE_BYTES)))
        with open(name, "rb") as handle:
            return _read(name, handle)
    except TooLarge as error:
        raise ImportFailed(f"{name} {error}") from None
    except OSError as error:
        raise ImportFailed(f"cannot read {name}: {error.strerror or error}") from None


def _read(name: str, handle: BinaryIO) -> Any:
    if zipfile.is_zipfile(handle):
        raw = _from_archive(name, handle)
    else:
        handle.seek(0)
        raw = read_at_most(handle, IMPORT_FILE_BYTES)
    try:
        return parse_json(raw)
    except TooLarge:
        raise
    except ValueError as error:  # not UTF-8, not JSON
        raise ImportFailed(f"{name} is not JSON ({error})") from None


READ_CHUNK = 64 * 1024
"""Bytes decompressed per read. zipfile reads up to this much compressed data ahead of
what it decompresses, so the ratio checked against the compressed bytes read lets a bomb
expand by `ARCHIVE_RATIO` times this at most, beyond its real size."""
_READABLE_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
"""Compressions whose decompression zipfile bounds per read (ChatGPT's archives use
deflate); bzip2 and lzma expand all the data of a read at once, however far."""


def _from_archive(name: str, handle: BinaryIO) -> bytes:
    """The `conversations.json` in a zip archive, refused as soon as it expands too far.

    What the archive says of the file's sizes is checked first, then the bytes really
    decompressed against the compressed bytes really read (an archive can lie about both).
    The list of files zipfile reads whole is bounded by what it can read in one go.
    """
    counted = _Counted(handle)
    try:
        with zipfile.ZipFile(counted) as archive:
            inside = [
                i for i in archive.infolist() if i.filename.rsplit("/", 1)[-1] == CHATGPT_FILE
            ]
            if not inside:
                raise ImportFailed(f"{name} is a zip archive without a {CHATGPT_FILE}")
            info = min(inside, key=lambda i: len(i.filename))
            _check_declared(name, info)
            with archive.open(info) as member:
                counted.count = 0
                return b"".join(_expanded(member, counted))
    except TooLarge as error:
        raise ImportFailed(f"{name} {error}") from None
    except EOFError:
        raise ImportFailed(f"{name} is a damaged zip archive (it ends too soon)") from None
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as error:
        raise ImportFailed(f"{name} is a damaged zip archive ({error})") from None


def _check_declared(name: str, info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise ImportFailed(f"{name} is encrypted; extract {CHATGPT_FILE} and import that")
    if info.compress_type not in _READABLE_COMPRESSION:
        raise ImportFailed(
            f"{name} is compressed in a way chat-tui does not read (method "
            f"{info.compress_type}); extract {CHATGPT_FILE} and import that"
        )
    _check_expansion(info.file_size, info.compress_size)


def _check_expansion(expanded: int, compressed: int) -> None:
    if expanded > ARCHIVE_EXPANDED_BYTES:
        raise TooLarge(
            f"holds a {CHATGPT_FILE} that expands to more than the "
            f"{size_text(ARCHIVE_EXPANDED_BYTES)} chat-tui reads"
        )
    if expanded > max(ARCHIVE_RATIO * compressed, ARCHIVE_RATIO_FROM):
        raise TooLarge(
            f"holds a {CHATGPT_FILE} that expands more than {ARCHIVE_RATIO} times its "
            "compressed size (a zip bomb?)"
        )


def _expanded(member: IO[bytes], counted: _Counted) -> Iterator[bytes]:
    """The member's bytes, counted as they are decompressed."""
    expanded = 0
    while chunk := member.read(READ_CHUNK):
        expanded += len(chunk)
        _check_expansion(expanded, counted.count)
        yield chunk


class _Counted:
    """An archive file that counts the bytes read from it: what a member's compressed data
    really took (and one read ahead), whatever the archive says.

    zipfile reads small pieces, except the archive's list of files, which it reads in one
    go and turns into objects many times larger: a read over `ARCHIVE_DIRECTORY_BYTES` is
    refused.
    """

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.size = file.seek(0, io.SEEK_END)
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        left = self.size - self.file.tell()
        size = left if size < 0 else min(size, left)
        if size > limits.ARCHIVE_DIRECTORY_BYTES:
            most = size_text(limits.ARCHIVE_DIRECTORY_BYTES)
            raise TooLarge(f"lists its files in more than {most} (a zip bomb?)")
        data = self.file.read(size)
        self.count += len(data)
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def seekable(self) -> bool:
        return True


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
            if conversation is not None:
                _check_lengths(conversation.messages)
        except (SchemaError, KeyError, TypeError, ValueError) as error:
            parsed.problems.append(f"conversation {position} of {name} skipped: {error}")
            continue
        if conversation is None:
            parsed.empty += 1
        else:
            parsed.conversations.append(conversation)
            _embedded(item, conversation, parsed, f"conversation {position} of {name}")
    return parsed


def _embedded(item: dict[str, Any], conversation: Conversation, parsed: Parsed, where: str) -> None:
    """The attachments embedded in `item` that its messages name, each checked: its size
    against its limit before it is decoded, its digest, size and kind after. One that does
    not check out is a line in `parsed.problems`; the conversation is imported without it
    (sending it then says its copy is missing)."""
    data = item.get("attachment_data")
    if not isinstance(data, dict):
        return
    used = sum(len(pending.data) for pending in parsed.attachments.values())
    for attachment in {a.sha256: a for a in attachments_of(conversation.messages)}.values():
        encoded = data.get(attachment.sha256)
        if attachment.sha256 in parsed.attachments or not isinstance(encoded, str):
            continue
        try:
            pending = _decoded(attachment, encoded, limits.EMBEDDED_ATTACHMENTS_BYTES - used)
        except AttachmentError as error:
            parsed.problems.append(f"{where}: attachment {attachment.name} not imported: {error}")
            continue
        parsed.attachments[attachment.sha256] = pending
        used += len(pending.data)


def _decoded(attachment: Attachment, encoded: str, room: int) -> PendingAttachment:
    limit = limit_for(attachment.media_type)
    if len(encoded) > 4 * (limit // 3 + 1):
        raise AttachmentError(f"it is more than the {size_text(limit)} an attachment may be")
    if len(encoded) > 4 * (room // 3 + 1):
        most = size_text(limits.EMBEDDED_ATTACHMENTS_BYTES)
        raise AttachmentError(f"the file embeds more than the {most} of attachments chat-tui reads")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentError("it is not base64") from None
    if len(raw) != attachment.size or hashlib.sha256(raw).hexdigest() != attachment.sha256:
        raise AttachmentError("its bytes do not match its digest")
    if media_type_of(raw) != attachment.media_type:
        raise AttachmentError(f"its bytes are not {attachment.media_type}")
    return PendingAttachment(attachment, raw)


def _check_lengths(messages: list[Message]) -> None:
    for message in messages:
        if max(len(message.content), len(message.reasoning or "")) > MESSAGE_CHARS:
            raise SchemaError(f"a message is longer than {MESSAGE_CHARS:,} characters")
        for branch in message.alternatives:
            _check_lengths(branch)


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
