"""How much chat-tui takes from what it reads: one limit per kind of input, and the readers
that hold to them.

Conversation files, imported files and archives come from disk or from the person: a damaged
or hostile one must be refused with a one-line reason, never take the process down or eat
the machine's memory. Every reader of such JSON goes through `load_json`, which refuses a
file over its size limit before reading it whole and nesting too deep before `json.loads`
recurses into it (CPython's parser recurses once per level and ends in `RecursionError`).
"""

from __future__ import annotations

import errno
import json
import operator
import os
import stat
from itertools import accumulate, count
from typing import Any, BinaryIO

MB = 1024 * 1024

JSON_DEPTH = 256
"""Nesting of arrays and objects in any JSON read. chat-tui's own files nest three levels
per prompt edited inside an earlier edit (alternatives hold messages that hold alternatives);
deeper than this is not a conversation, and reading it would recurse past Python's limit."""
CONVERSATION_FILE_BYTES = 256 * MB
"""Size of one conversation file, read or written: far beyond any conversation typed or
generated (a model's context window holds a few megabytes of text), small enough to read
into memory whole."""
IMPORT_FILE_BYTES = 512 * MB
"""Size of an imported JSON file (or of stdin): ChatGPT's `conversations.json` for years of
daily use is a few hundred megabytes, and its parsed form takes several times that."""
ARCHIVE_EXPANDED_BYTES = IMPORT_FILE_BYTES
"""What the file read from a zip archive may expand to: the same file as `IMPORT_FILE_BYTES`,
checked against what the archive claims and again as it is decompressed."""
ARCHIVE_RATIO = 100
"""How many times its compressed size a file in a zip may expand to. JSON compresses about
ten to twenty times; a zip bomb (a megabyte expanding to gigabytes) a thousand."""
ARCHIVE_RATIO_FROM = 1 * MB
"""Expanded bytes before the ratio counts: the ratio of a small file says nothing."""
ARCHIVE_DIRECTORY_BYTES = 64 * MB
"""Size of a zip archive's list of files (its central directory), read whole into objects
ten times larger: ChatGPT's export with ten thousand pictures lists them in about a
megabyte."""
MESSAGE_CHARS = 10_000_000
"""Characters in one imported message: no model reads or writes more in one message (the
largest context windows hold a few million tokens of about four characters)."""
DRAFT_BYTES = 4 * MESSAGE_CHARS
"""A draft file: what the message box holds at most (`MESSAGE_CHARS` characters of up to four
bytes each). A larger file is no draft chat-tui wrote, and is not shown."""
CONFIG_FILE_BYTES = 4 * MB
"""config.toml: a few kilobytes written by hand; `PRESETS` presets with the largest settings
each stay below it."""
PROMPT_BYTES = 16 * MB
"""Text piped to `ask`, or one line piped to `--plain`: more than any model's context holds,
and a pipe with no end (`yes |`, `/dev/zero`) is refused there, not read into memory whole."""

TEXT_ATTACHMENT_BYTES = 1 * MB
"""A text file attached to a message: a log larger than this would not fit a model's context
window anyway, and it is sent again with every later message of the conversation."""
IMAGE_ATTACHMENT_BYTES = 20 * MB
"""An image attached to a message: OpenAI's own limit for one image."""
MESSAGE_ATTACHMENTS = 10
"""Attachments on one message (also the most a message read from a file may name)."""
MESSAGE_ATTACHMENT_BYTES = 50 * MB
"""All the attachments of one message together: a request carries them base64-encoded, a
third larger again."""
EMBEDDED_ATTACHMENTS_BYTES = 256 * MB
"""Attachments embedded in one imported JSON file, decoded, all together."""

TOOL_RESULT_CHARS = 500_000
"""Characters of one tool call's result kept in the conversation file (the rest is cut with
a note): a tool can return anything, and the file is written again on every save."""
TOOL_SCHEMA_CHARS = 50_000
"""Size (as JSON) of one tool's argument schema from an MCP server; a larger one leaves its
tool out. Every request carries every schema."""
TOOL_SCHEMA_DEPTH = 20
"""Nesting of one tool's argument schema; a deeper one leaves its tool out."""
TOOL_DESCRIPTION_CHARS = 2_000
"""Characters of a tool's description sent to the model (cut with an ellipsis)."""
SERVER_TOOLS = 500
"""Tools read from one MCP server (over at most `SERVER_TOOL_PAGES` pages of its list)."""
SERVER_TOOL_PAGES = 20
SERVER_STDERR_BYTES = 4_000
"""The end of an MCP server's stderr kept to quote when it fails; older output is dropped as
it comes, however much the server writes."""


WINDOWS_FILE_BYTES = 1 * MB
"""Size of the file of remembered context windows (`context_windows.json`): a few dozen bytes
per server and model."""
WINDOWS_REMEMBERED = 1_000
"""Servers and models whose context window is remembered; the oldest are forgotten first."""
CONTEXT_WINDOW_TOKENS = (256, 100_000_000)
"""Tokens a context window may hold (config.toml, `--context-window`, what a server says):
smaller is no model, larger is a typo (or a hostile server) that would let a request grow
past anything a server accepts."""


class TooLarge(ValueError):
    """Input over one of the limits. The message says which, to follow a file's name:
    "is nested more than 256 levels deep"."""


def size_text(size: int) -> str:
    return f"{size / MB:,.0f} MB" if size >= MB else f"{size:,} bytes"


def read_at_most(source: BinaryIO, limit: int) -> bytes:
    """All of `source`, refused (`TooLarge`) if it holds more than `limit` bytes.

    A regular file over the limit is refused by its size, without reading it; anything else
    (a pipe, a file still growing) is read a chunk at a time, to one byte past the limit at
    most.
    """
    try:
        size = os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a file (a BytesIO)
        size = 0
    if size > limit:
        raise TooLarge(f"is {size_text(size)}, more than the {size_text(limit)} chat-tui reads")
    chunks: list[bytes] = []
    total = 0
    want = size + 1 if size else _CHUNK
    while chunk := source.read(min(want, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"is more than the {size_text(limit)} chat-tui reads")
        want = _CHUNK
    return b"".join(chunks)


_CHUNK = 1 * MB


def open_regular_file(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened to read, if it is a regular file. Anything else (a FIFO, a device, a
    directory) is refused with an `OSError` without waiting on it: opened as a file, a FIFO
    with no writer waits for ever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file_at_most(path: str | os.PathLike[str], limit: int) -> bytes:
    """The regular file at `path` (see `open_regular_file`), read as `read_at_most`."""
    with open_regular_file(path) as handle:
        return read_at_most(handle, limit)


def load_json(source: BinaryIO, limit: int) -> Any:
    """The JSON value in `source` (read as `read_at_most`), checked as `parse_json`."""
    return parse_json(read_at_most(source, limit))


def parse_json(raw: bytes) -> Any:
    """`json.loads(raw)`, refused (`TooLarge`) if it nests deeper than `JSON_DEPTH`.

    Anything else wrong with the text raises what `json.loads` raises (`ValueError`s).
    """
    encoding = json.detect_encoding(raw)
    if not encoding.startswith("utf-8"):
        # UTF-16 and -32 spell brackets in several bytes: scan the text as UTF-8 instead.
        raw = raw.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    if nests_too_deep(raw):
        raise TooLarge(f"is nested more than {JSON_DEPTH} levels deep")
    return json.loads(raw)


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_OPEN_AS_TWO = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def nests_too_deep(raw: bytes) -> bool:
    """Whether the arrays and objects of UTF-8 JSON nest deeper than `JSON_DEPTH` (brackets
    inside strings not counted), found at C speed: a loop over the bytes in Python would
    take seconds on a large export.

    Only escaped backslashes and quotes can hide where a string ends: removing them (pairs
    of backslashes first, as a parser pairs them left to right) leaves strings as the text
    between two quotes. In UTF-8 no byte of a multi-byte character is a bracket or quote.
    """
    if raw.count(b"[") + raw.count(b"{") <= JSON_DEPTH:
        return False  # too few brackets to nest that deep
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = unescaped.translate(None, _NOT_STRUCTURE)
    outside = b"".join(skeleton.split(b'"')[::2])  # even pieces lie outside strings
    if outside.count(b"[") + outside.count(b"{") <= JSON_DEPTH:
        return False
    # Opening brackets count 2 and closing ones 0: the running sum minus the number of
    # brackets so far is the depth after each one.
    steps = outside.translate(_OPEN_AS_TWO)
    deepest: int = max(map(operator.sub, accumulate(steps), count(1)))
    return deepest > JSON_DEPTH


EXTRA_BODY_FIELDS = 32
"""Fields of one `extra_body` table (a provider's own settings: a handful of numbers)."""
EXTRA_BODY_DEPTH = 4
"""Nesting of an `extra_body` table; every request carries it."""
EXTRA_BODY_CHARS = 4096
"""Size of an `extra_body` table as JSON."""
STOP_SEQUENCES = 4
"""Stop sequences of one conversation (the API takes at most four)."""
STOP_SEQUENCE_CHARS = 200
"""Characters of one stop sequence."""
PRESETS = 200
"""`[presets.NAME]` tables read from config.toml; the rest are left out."""
