"""The limits on what chat-tui reads: each one refuses what is over it, in one line, before
reading or parsing it whole, and lets through what is at it."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_tui import limits
from chat_tui.drafts import DraftStore
from chat_tui.limits import (
    JSON_DEPTH,
    MB,
    TooLarge,
    load_json,
    nests_too_deep,
    parse_json,
    read_file_at_most,
)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_json_nested_to_the_limit_is_read_and_one_level_more_is_refused() -> None:
    assert parse_json(nested(JSON_DEPTH)) is not None
    with pytest.raises(TooLarge, match=f"^is nested more than {JSON_DEPTH} levels deep$"):
        parse_json(nested(JSON_DEPTH + 1))


def test_a_hundred_thousand_open_brackets_are_refused_not_recursed_into() -> None:
    with pytest.raises(TooLarge, match="nested more than"):
        parse_json(b"[" * 100_000)
    with pytest.raises(TooLarge, match="nested more than"):
        parse_json(b'{"a":' * 100_000)


def test_brackets_quotes_and_backslashes_inside_strings_do_not_count() -> None:
    text = '[ \\ ] { } " \\" \\\\" [[[[' * 200
    value = [{"content": text, "more": [text, {"x": text}]}] * 300
    raw = json.dumps(value).encode()
    assert parse_json(raw) == value


def test_json_in_utf16_is_measured_as_its_text() -> None:
    assert parse_json(json.dumps([[1]]).encode("utf-16")) == [[1]]
    with pytest.raises(TooLarge):
        parse_json(nested(JSON_DEPTH + 1).decode().encode("utf-16"))


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


TRICKY = st.text(alphabet='[]{}"\\\\/nu é\x00', max_size=6)
JSON_VALUES = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, limit=st.integers(0, 6), ascii_only=st.booleans())
def test_the_scan_finds_exactly_the_depth_a_parser_would(
    value: Any, limit: int, ascii_only: bool
) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    original = limits.JSON_DEPTH
    limits.JSON_DEPTH = limit
    try:
        assert nests_too_deep(raw) == (depth_of(value) > limit)
    finally:
        limits.JSON_DEPTH = original


def test_a_file_over_its_limit_is_refused_by_its_size_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(limits.CONVERSATION_FILE_BYTES + MB)  # sparse: takes no disk
    tracemalloc.start()
    try:
        with open(path, "rb") as handle, pytest.raises(TooLarge) as refused:
            load_json(handle, limits.CONVERSATION_FILE_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(refused.value) == "is 257 MB, more than the 256 MB chat-tui reads"
    assert peak < MB


def test_a_stream_is_read_to_one_byte_past_its_limit_at_most() -> None:
    stream = io.BytesIO(b"[" + b" " * (3 * MB) + b"]")
    with pytest.raises(TooLarge, match=r"^is more than the 2 MB chat-tui reads$"):
        load_json(stream, 2 * MB)
    assert stream.tell() == 2 * MB + 1
    assert load_json(io.BytesIO(b"[1]"), 3) == [1]


def test_only_a_regular_file_is_read_and_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: opening it to read without O_NONBLOCK waits for ever
    with pytest.raises(OSError, match="not a regular file"):
        read_file_at_most(fifo, MB)
    with pytest.raises(OSError):
        read_file_at_most(tmp_path, MB)  # a directory
    (tmp_path / "file").write_bytes(b"1234")
    assert read_file_at_most(tmp_path / "file", 4) == b"1234"
    with pytest.raises(TooLarge):
        read_file_at_most(tmp_path / "file", 3)


def test_a_draft_that_chat_tui_cannot_have_written_is_no_draft(tmp_path: Path) -> None:
    """A draft over what the message box holds, a FIFO or a directory is not shown (and a
    huge one is not read to find out): the person starts from an empty box."""
    drafts = DraftStore(tmp_path)
    drafts.save("kept", "half a thought")
    assert drafts.load("kept") == "half a thought"
    with open(drafts.directory / "huge.txt", "wb") as handle:
        handle.truncate(limits.DRAFT_BYTES + 1)  # sparse: takes no disk
    os.mkfifo(drafts.directory / "fifo.txt")
    (drafts.directory / "folder.txt").mkdir()
    tracemalloc.start()
    try:
        assert [drafts.load(key) for key in ("huge", "fifo", "folder")] == ["", "", ""]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MB
