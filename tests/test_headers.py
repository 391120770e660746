"""A conversation's header, read from the first bytes of its file, says what the whole file
says, or nothing: a damaged, cut-off or hostile file never lists something wrong or stalls.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chat_tui.encoding import ConversationEncoder
from chat_tui.headers import HEADER_BYTES, parse_header, read_header
from chat_tui.index import SYNC_BATCH
from chat_tui.models import SCHEMA_VERSION, Conversation, Message
from chat_tui.store import ConversationStore


def conversation_bytes(conversation: Conversation) -> bytes:
    return ConversationEncoder().encode(conversation.to_dict())


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(max_size=300),
    model=st.text(max_size=40),
    system_prompt=st.text(max_size=3000),
    content=st.text(max_size=500),
    cut=st.integers(min_value=0, max_value=6000),
    indent=st.sampled_from([None, 1, 2]),
)
def test_a_header_read_from_any_prefix_agrees_with_the_whole_file(
    title: str, model: str, system_prompt: str, content: str, cut: int, indent: int | None
) -> None:
    made = Conversation(title=title, model=model, system_prompt=system_prompt)
    made.messages.append(Message(role="user", content=content))
    raw = conversation_bytes(made) if indent == 2 else json.dumps(made.to_dict(), indent=indent)
    data = raw if isinstance(raw, bytes) else raw.encode()
    whole = Conversation.from_dict(json.loads(data))
    header = parse_header(data[:cut])
    if header is not None:
        assert (header.title, header.created_at, header.updated_at, header.model) == (
            whole.title,
            whole.created_at,
            whole.updated_at,
            whole.model,
        )
        assert not header.read_only
    if len(data) <= cut or len(data[: data.index(b'"messages"')]) < cut:
        assert header is not None  # everything before the messages was there


def test_a_title_cut_off_by_the_end_of_what_is_read_gives_no_header(tmp_path: Path) -> None:
    made = Conversation(title="long " * HEADER_BYTES)
    path = tmp_path / "long.json"
    path.write_bytes(conversation_bytes(made))
    assert read_header(path) is None


def test_nothing_but_a_conversation_file_has_a_header(tmp_path: Path) -> None:
    newer = Conversation(title="from the future").to_dict()
    newer["schema_version"] = SCHEMA_VERSION + 1
    header = parse_header(json.dumps(newer).encode())
    assert header is not None and header.read_only
    for raw in (
        b"",
        b"[]",
        b"{}",
        b'{"title": "no id", "updated_at": "x", "messages": []}',
        b'{"id": 5, "title": "a number for an id", "updated_at": "x", "messages": []}',
        b'{"schema_version": "3", "id": "a", "title": "t", "updated_at": "x", "messages": []}',
        b'{"id": "a", "title": "t", "updated_at": "x", "messages": {}}',
        b'{"id": "a", "title": "\xff\xfe", "updated_at": "x", "messages": []}',
        b'{"id": "a", "title": "t", "updated_at": "x" "messages": []}',
        b'{"id": "a", "title": "t", "tool_servers": {"messages": true, ' + b"[" * 10_000,
        b"[" * HEADER_BYTES,
        b'{"id": "a", "title": "t", "revision": 12',  # cut inside a number
    ):
        assert parse_header(raw) is None, raw
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert read_header(fifo) is None  # not waited on


def test_a_half_written_file_is_listed_until_read_whole_then_reported(
    store: ConversationStore,
) -> None:
    """A sync tool's half-written copy: listed by its header at first, reported once it is
    read whole; a file damaged before its title is never listed. Neither holds up the rest."""
    folder = store.conversations_dir
    folder.mkdir(parents=True)
    fine = [Conversation(title=f"fine {n}") for n in range(SYNC_BATCH + 5)]
    for made in fine:
        (folder / f"{made.id}.json").write_bytes(conversation_bytes(made))
    half = Conversation(title="half written")
    half.messages.append(Message(role="user", content="x" * 10_000))
    (folder / f"{half.id}.json").write_bytes(conversation_bytes(half)[:5_000])
    (folder / "garbage.json").write_bytes(b'{"id": "garbage", "ti\x00\xff')
    seen: list[set[str]] = []
    problems = store.refresh(listed=lambda: seen.append({s.title for s in store.summaries()}))
    assert seen[-1] == {made.title for made in fine} | {"half written"}
    assert {problem.path.name for problem in problems} == {f"{half.id}.json", "garbage.json"}
    assert {s.title for s in store.summaries()} == {made.title for made in fine}
