"""Files sent with a prompt: read and recognised, copied into the data directory, and turned
into the parts of a request.

A file's kind comes from its content, never its name: an image by its format's magic bytes
(PNG, JPEG, GIF, WebP), text if it decodes (UTF-8, UTF-16 with a byte-order mark, or
Windows-1252) without control characters; anything else is refused. Nothing is cut: a file
over its limit is refused with the figures.

The copies live in `<data dir>/attachments/<sha256>.<ext>`, one per distinct content,
shared by every conversation that sent it, so a conversation can be sent again after the
original moved or changed. A copy is read back only if its digest still matches.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import os
import re
import stat
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat_tui import limits
from chat_tui.atomic import write_bytes_atomic
from chat_tui.limits import size_text
from chat_tui.models import EXTENSIONS, MEDIA_TYPES, Attachment, Message
from chat_tui.paths import ensure_private_dir
from chat_tui.safetext import one_line


class AttachmentError(Exception):
    """A file cannot be attached or a stored copy cannot be sent; the message says why, for
    the person."""

    def __init__(self, message: str, *, io_error: bool = False) -> None:
        super().__init__(message)
        self.io_error = io_error
        """The disk failed (as opposed to a wrong path, a wrong kind of file, a limit)."""


@dataclass(frozen=True)
class PendingAttachment:
    """An attachment read from a file, with its bytes, not yet stored or sent."""

    attachment: Attachment
    data: bytes


# -- recognising a file ------------------------------------------------------------------


def media_type_of(data: bytes) -> str | None:
    """The media type of an image or text file's bytes; None for anything else."""
    return image_type(data) or ("text/plain" if decode_text(data) is not None else None)


def image_type(data: bytes) -> str | None:
    """The media type of an image by its first bytes (its format's magic); None if it is
    none of PNG, JPEG, GIF, WebP."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
"""Control characters no text file holds (tab, line ends, form feed and escape, which
coloured logs hold, are allowed)."""


def decode_text(data: bytes) -> str | None:
    """The text in `data`, or None if it is not text in an encoding chat-tui knows.

    Windows-1252 is tried last: it decodes almost any byte, so it is taken only when nothing
    in the file is a control character (binary files are full of them). ISO-8859-1 text
    without its C1 controls reads the same in it.
    """
    text: str | None = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _decoded(data, "utf-16")
    elif data.startswith(b"\xef\xbb\xbf"):
        text = _decoded(data, "utf-8-sig")
    else:
        text = _decoded(data, "utf-8")
        if text is None:
            text = _decoded(data, "cp1252")
    if text is None or _CONTROL.search(text):
        return None
    return text


def _decoded(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header of a PNG, JPEG, GIF or WebP image; None when the
    header is not one of those, is cut short, or makes no sense."""
    size: tuple[int, int] | None = None
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        size = (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
    elif data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        size = (int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little"))
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = _webp_dimensions(data)
    elif data.startswith(b"\xff\xd8"):
        size = _jpeg_dimensions(data)
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    return None


_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers (which hold the size); C4, C8 and CC are other segments."""
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})
"""Markers without a length: TEM, restarts, start and end of image."""


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """Walk the segments to the first frame header. Every step moves forward, so a hostile
    file ends the walk at its end."""
    position = 2
    while position + 1 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if position + 4 > len(data):
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            return None
        if marker in _JPEG_FRAMES:
            if position + 9 > len(data) or length < 7:
                return None
            height = int.from_bytes(data[position + 5 : position + 7], "big")
            return int.from_bytes(data[position + 7 : position + 9], "big"), height
        position += 2 + length
    return None


# -- reading a file ----------------------------------------------------------------------


def limit_for(media_type: str) -> int:
    """Largest file of this type that may be attached."""
    if MEDIA_TYPES[media_type] == "image":
        return limits.IMAGE_ATTACHMENT_BYTES
    return limits.TEXT_ATTACHMENT_BYTES


def attachment_name(path: Path) -> str:
    """The file name kept in the conversation: no directories, nothing unprintable."""
    name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in path.name)
    if name in ("", ".", ".."):
        return "attachment"
    return name[:255]


HEAD_BYTES = 64 * 1024
"""Bytes read first, to tell an image (and its limit) from the rest before reading more."""


def read_attachment(path: str | os.PathLike[str]) -> PendingAttachment:
    """Read and recognise the file at `path`; `AttachmentError` says why it cannot be
    attached. At most one byte more than its kind's limit is read, whatever the file claims
    its size is, and anything but a regular file (a FIFO, a device) is refused without
    reading it."""
    path = Path(path).expanduser()
    shown = one_line(str(path), 200)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _open_error(shown, error) from None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise AttachmentError(f"{shown} is a directory, not a file")
            if not stat.S_ISREG(info.st_mode):
                raise AttachmentError(f"{shown} is not a regular file")
            head = handle.read(HEAD_BYTES)
            image = image_type(head)
            limit = limits.IMAGE_ATTACHMENT_BYTES if image else limits.TEXT_ATTACHMENT_BYTES
            if info.st_size > limit:
                if not image and not _starts_as_text(head):
                    raise AttachmentError(_not_attachable(shown))
                raise AttachmentError(_too_large(shown, info.st_size, limit, image))
            data = head + handle.read(max(0, limit + 1 - len(head)))
    except OSError as error:
        raise _open_error(shown, error) from None
    if len(data) > limit:  # it grew after its size was read
        raise AttachmentError(_too_large(shown, None, limit, image))
    media_type = image or ("text/plain" if decode_text(data) is not None else None)
    if media_type is None:
        raise AttachmentError(_not_attachable(shown))
    attachment = Attachment(
        name=attachment_name(path),
        kind=MEDIA_TYPES[media_type],
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return PendingAttachment(attachment, data)


def _starts_as_text(head: bytes) -> bool:
    """Whether the start of a file reads as text (its last character may be cut short)."""
    return any(decode_text(head[: len(head) - cut]) is not None for cut in range(4))


def _not_attachable(shown: str) -> str:
    return (
        f"{shown} is neither text (UTF-8, UTF-16 or Windows-1252) nor a PNG, JPEG, GIF or "
        "WebP image; only those can be attached"
    )


def _too_large(shown: str, size: int | None, limit: int, image: str | None) -> str:
    """The figures: the file's size when it is known (None: it grew while read)."""
    measured = f"is {size_over(size)}," if size is not None else "is"
    what = "an image" if image else "a text file"
    return f"{shown} {measured} more than the {size_text(limit)} {what} may be to be attached"


def size_over(size: int) -> str:
    """A size in megabytes rounded up to a tenth, so a file just over a limit never reads
    as the limit itself ("1.1 MB", not "1 MB")."""
    if size < limits.MB:
        return size_text(size)
    tenths = -(-size * 10 // limits.MB)
    return f"{tenths // 10:,}" + (f".{tenths % 10}" if tenths % 10 else "") + " MB"


def _open_error(shown: str, error: OSError) -> AttachmentError:
    if error.errno == errno.ENOENT:
        return AttachmentError(f"no such file: {shown}")
    if error.errno == errno.EISDIR:
        return AttachmentError(f"{shown} is a directory, not a file")
    if error.errno in (errno.EACCES, errno.EPERM):
        return AttachmentError(f"cannot read {shown}: permission denied")
    if error.errno in (errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP):
        return AttachmentError(f"no such file: {shown} ({error.strerror})")
    return AttachmentError(f"cannot read {shown}: {error.strerror or error}", io_error=True)


def check_message(attachments: Collection[Attachment]) -> None:
    """Refuse (`AttachmentError`) more attachments on one message than a request carries."""
    if len(attachments) > limits.MESSAGE_ATTACHMENTS:
        raise AttachmentError(
            f"{len(attachments)} attachments, more than the {limits.MESSAGE_ATTACHMENTS} "
            "one message may carry"
        )
    total = sum(attachment.size for attachment in attachments)
    if total > limits.MESSAGE_ATTACHMENT_BYTES:
        raise AttachmentError(
            f"the attachments come to {size_text(total)}, more than the "
            f"{size_text(limits.MESSAGE_ATTACHMENT_BYTES)} one message may carry"
        )


# -- the store ---------------------------------------------------------------------------

COLLECT_AFTER_SECONDS = 24 * 60 * 60
"""A copy written (or attached again) this recently is never collected: it may belong to a
prompt that is attached but not yet sent, which no conversation file names yet."""


class AttachmentStore:
    """The copies under `root` (the data directory's `attachments/`). Thread-safe: every
    write is an atomic replacement of a file whose name is its content's digest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, attachment: Attachment) -> Path:
        return self.root / f"{attachment.sha256}.{attachment.extension}"

    def put(self, pending: PendingAttachment) -> Attachment:
        """Keep a copy of the bytes (once per content: an existing good copy is re-used,
        and marked recent so it is not collected before it is sent)."""
        attachment = pending.attachment
        path = self.path_of(attachment)
        try:
            ensure_private_dir(self.root)
            if self._holds(attachment):
                os.utime(path)
            else:
                write_bytes_atomic(path, pending.data)
        except OSError as error:
            raise AttachmentError(
                f"could not keep a copy of {one_line(attachment.name)} in {self.root}: "
                f"{error.strerror or error}",
                io_error=True,
            ) from error
        return attachment

    def _holds(self, attachment: Attachment) -> bool:
        """Whether a good copy is there already (a changed one is written again)."""
        try:
            self.bytes_of(attachment)
        except AttachmentError:
            return False
        return True

    def bytes_of(self, attachment: Attachment) -> bytes:
        """The stored bytes, checked against the digest: a copy that is missing or changed
        raises `AttachmentError` rather than sending something else."""
        path = self.path_of(attachment)
        name = one_line(attachment.name)
        try:
            with limits.open_regular_file(path) as handle:
                data = handle.read(attachment.size + 1)
        except FileNotFoundError:
            raise AttachmentError(
                f"the copy of {name} kept in {self.root} is missing; attach the file again"
            ) from None
        except OSError as error:
            raise AttachmentError(
                f"cannot read the copy of {name} in {self.root}: {error.strerror or error}",
                io_error=True,
            ) from error
        if len(data) != attachment.size or hashlib.sha256(data).hexdigest() != attachment.sha256:
            raise AttachmentError(
                f"the copy of {name} kept in {self.root} has changed since it was attached; "
                "attach the file again"
            )
        return data

    def text_of(self, attachment: Attachment) -> str:
        """A text attachment's content, decoded as it was when it was attached."""
        text = decode_text(self.bytes_of(attachment))
        if text is None:  # the digest matched, so this is not the file that was attached
            raise AttachmentError(f"the copy of {one_line(attachment.name)} is not text")
        return text

    def digests(self) -> dict[str, Path]:
        """Every copy in the store by digest (hidden temporary files left out)."""
        try:
            entries = list(self.root.iterdir())
        except FileNotFoundError:
            return {}
        known = set(EXTENSIONS.values())
        return {
            path.stem: path
            for path in entries
            if not path.name.startswith(".") and path.suffix[1:] in known and len(path.stem) == 64
        }

    def collect(self, referenced: Collection[str], *, now: float | None = None) -> list[Path]:
        """Remove the copies whose digest is not in `referenced` (and older than
        `COLLECT_AFTER_SECONDS`); the paths removed."""
        now = time.time() if now is None else now
        removed: list[Path] = []
        for digest, path in self.digests().items():
            if digest in referenced:
                continue
            try:
                if now - path.stat().st_mtime < COLLECT_AFTER_SECONDS:
                    continue
                path.unlink()
            except OSError:
                continue  # gone already, or not ours to remove: tried again next time
            removed.append(path)
        return removed


def attachments_of(messages: Iterable[Message]) -> Iterator[Attachment]:
    """Every attachment of these messages and of their alternatives."""
    for message in messages:
        yield from message.attachments
        for branch in message.alternatives:
            yield from attachments_of(branch)


# -- sending -----------------------------------------------------------------------------


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks in `text` (three at least)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def text_part(attachment: Attachment, text: str) -> dict[str, Any]:
    """A text attachment as the model reads it: its name, then its content fenced."""
    fence = fence_for(text)
    ending = "" if text.endswith("\n") else "\n"
    return {
        "type": "text",
        "text": f"{attachment.name}\n{fence}\n{text}{ending}{fence}",
    }


def image_part(attachment: Attachment, data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "type": "image_url",
        "image_url": {"url": f"data:{attachment.media_type};base64,{encoded}"},
    }


def request_parts(
    store: AttachmentStore, attachments: Iterable[Attachment]
) -> Mapping[Attachment, dict[str, Any]]:
    """The content part of each attachment, read from the store (in a worker thread: this
    reads and encodes megabytes). `AttachmentError` if a copy is missing or changed."""
    parts: dict[Attachment, dict[str, Any]] = {}
    for attachment in attachments:
        if attachment in parts:
            continue
        if attachment.kind == "image":
            parts[attachment] = image_part(attachment, store.bytes_of(attachment))
        else:
            parts[attachment] = text_part(attachment, store.text_of(attachment))
    return parts


async def read_parts(
    store: AttachmentStore | None, needed: list[Attachment]
) -> Mapping[Attachment, dict[str, Any]]:
    """`request_parts` in a worker thread; `AttachmentError` without a store to read from."""
    if store is None:
        raise AttachmentError("this conversation has attachments, and no store to read them from")
    return await asyncio.to_thread(request_parts, store, needed)
