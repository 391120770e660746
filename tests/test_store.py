"""The store: atomic files, the index kept in step with them, trash, races between processes."""

from __future__ import annotations

import json
import os
import stat
import tracemalloc
from pathlib import Path

import pytest

from chat_tui import limits
from chat_tui.models import SCHEMA_VERSION, Conversation, Message
from chat_tui.store import ConversationStore, StoreError
from tests.support.disk import file_size_limit


def conversation_with(*texts: str, title: str = "") -> Conversation:
    conversation = Conversation(model="gpt-test", title=title)
    for i, text in enumerate(texts):
        if i % 2 == 0:
            conversation.add_user_message(text)
        else:
            conversation.messages.append(Message(role="assistant", content=text, model="gpt-test"))
    return conversation


def test_round_trip_keeps_every_field(store: ConversationStore) -> None:
    conversation = conversation_with("Hello", "Hi! How can I help?")
    conversation.system_prompt = "Be brief."
    conversation.messages[1].status = "stopped"
    store.save(conversation)
    loaded = store.load(conversation.id)
    assert loaded.title == "Hello"
    assert loaded.system_prompt == "Be brief."
    assert [(m.role, m.content, m.status) for m in loaded.messages] == [
        ("user", "Hello", "complete"),
        ("assistant", "Hi! How can I help?", "stopped"),
    ]
    assert loaded.messages[1].model == "gpt-test"


def test_file_format_is_documented_plain_json(store: ConversationStore, data_dir: Path) -> None:
    conversation = conversation_with("Question", "Answer")
    store.save(conversation)
    path = data_dir / "conversations" / f"{conversation.id}.json"
    data = json.loads(path.read_text())
    for key in ("schema_version", "id", "title", "created_at", "updated_at", "model"):
        assert key in data
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["messages"][0] == {
        "id": conversation.messages[0].id,
        "role": "user",
        "content": "Question",
        "created_at": conversation.messages[0].created_at,
        "status": "complete",
    }


def test_files_and_directories_are_private(store: ConversationStore, data_dir: Path) -> None:
    conversation = conversation_with("secret thoughts")
    store.save(conversation)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "conversations").stat().st_mode) == 0o700
    file_mode = (data_dir / "conversations" / f"{conversation.id}.json").stat().st_mode
    assert stat.S_IMODE(file_mode) == 0o600


def test_save_is_atomic_and_leaves_no_temporary_files(
    store: ConversationStore, data_dir: Path
) -> None:
    conversation = conversation_with("one")
    for n in range(5):
        conversation.add_user_message(f"more {n}")
        store.save(conversation)
    names = os.listdir(data_dir / "conversations")
    assert names == [f"{conversation.id}.json"]


def test_a_failed_write_keeps_the_previous_file(store: ConversationStore, data_dir: Path) -> None:
    conversation = conversation_with("keep me")
    store.save(conversation)
    path = data_dir / "conversations" / f"{conversation.id}.json"
    before = path.read_bytes()
    conversation.add_user_message("x" * 100_000)
    with file_size_limit(len(before) + 10), pytest.raises(StoreError, match="could not write"):
        store.save(conversation)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_summaries_are_most_recent_first(store: ConversationStore) -> None:
    older = conversation_with("older")
    older.updated_at = "2026-01-01T00:00:00.000+00:00"
    newer = conversation_with("newer")
    newer.updated_at = "2026-06-01T00:00:00.000+00:00"
    store.save(older)
    store.save(newer)
    store.refresh()
    assert [s.title for s in store.summaries()] == ["newer", "older"]


def test_index_follows_files_changed_behind_its_back(
    store: ConversationStore, data_dir: Path
) -> None:
    kept = conversation_with("kept")
    gone = conversation_with("gone")
    store.save(kept)
    store.save(gone)
    # Another program adds, edits and deletes files.
    added = conversation_with("added elsewhere")
    folder = data_dir / "conversations"
    (folder / f"{added.id}.json").write_text(json.dumps(added.to_dict()))
    edited = kept.to_dict()
    edited["title"] = "renamed elsewhere"
    (folder / f"{kept.id}.json").write_text(json.dumps(edited))
    (folder / f"{gone.id}.json").unlink()
    store.refresh()
    assert sorted(s.title for s in store.summaries()) == ["added elsewhere", "renamed elsewhere"]


def test_index_is_rebuilt_when_missing_or_damaged(store: ConversationStore, data_dir: Path) -> None:
    store.save(conversation_with("survivor"))
    store.close()
    (data_dir / "index.sqlite3").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{data_dir / 'index.sqlite3'}{suffix}").unlink(missing_ok=True)
    fresh = ConversationStore(data_dir)
    fresh.refresh()
    assert [s.title for s in fresh.summaries()] == ["survivor"]
    fresh.close()


def test_unreadable_files_are_reported_and_left_untouched(
    store: ConversationStore, data_dir: Path
) -> None:
    store.save(conversation_with("fine"))
    folder = data_dir / "conversations"
    broken = {
        "truncated.json": b'{"schema_version": 2, "id": "trunc',
        "notjson.json": b"hello",
        "wrongshape.json": b"[1, 2, 3]",
    }
    for name, raw in broken.items():
        (folder / name).write_bytes(raw)
    problems = store.refresh()
    assert sorted(p.path.name for p in problems) == sorted(broken)
    assert [s.title for s in store.summaries()] == ["fine"]
    for name, raw in broken.items():
        assert (folder / name).read_bytes() == raw
    with pytest.raises(StoreError, match="not valid JSON"):
        store.load("notjson")


def test_a_deep_or_huge_file_is_reported_by_name_untouched_and_the_rest_listed(
    store: ConversationStore, data_dir: Path
) -> None:
    store.save(conversation_with("fine"))
    folder = data_dir / "conversations"
    deep = folder / "20260101-000000-deep01.json"
    deep.write_bytes(b"[" * 100_000)
    huge = folder / "20260101-000000-huge01.json"
    with open(huge, "wb") as handle:
        handle.truncate(limits.CONVERSATION_FILE_BYTES + limits.MB)  # sparse: takes no disk
    tracemalloc.start()
    try:
        problems = store.refresh()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert {p.path.name: p.reason for p in problems} == {
        deep.name: "is nested more than 256 levels deep",
        huge.name: "is 257 MB, more than the 256 MB chat-tui reads",
    }
    assert peak < 16 * limits.MB  # the huge one was never read
    assert [s.title for s in store.summaries()] == ["fine"]
    with pytest.raises(StoreError, match=r"deep01\.json is nested more than 256 levels deep"):
        store.load(deep.stem)
    assert deep.read_bytes() == b"[" * 100_000
    assert huge.stat().st_size == limits.CONVERSATION_FILE_BYTES + limits.MB


def test_a_fifo_named_as_a_conversation_is_reported_and_never_waited_on(
    store: ConversationStore, data_dir: Path
) -> None:
    """Opened as a file, a FIFO with no writer waits for ever: the index's refresh and
    opening it stalled."""
    store.save(conversation_with("fine"))
    fifo = data_dir / "conversations" / "20260101-000000-fifo01.json"
    os.mkfifo(fifo)
    problems = store.refresh()
    assert {p.path.name: p.reason for p in problems} == {
        fifo.name: "cannot be read: not a regular file"
    }
    assert [s.title for s in store.summaries()] == ["fine"]
    with pytest.raises(StoreError, match="not a regular file"):
        store.load(fifo.stem)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_conversation_too_large_to_read_back_is_not_written(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = conversation_with("short")
    store.save(conversation)
    path = store.path_of(conversation.id)
    before = path.read_bytes()
    monkeypatch.setattr(limits, "CONVERSATION_FILE_BYTES", 4096)
    conversation.add_user_message("x" * 5000)
    with pytest.raises(StoreError, match="more than the 4,096 bytes chat-tui reads back"):
        store.save(conversation)
    assert path.read_bytes() == before


def test_a_newer_file_is_read_only_and_never_overwritten(
    store: ConversationStore, data_dir: Path
) -> None:
    future = conversation_with("from the future").to_dict()
    future["schema_version"] = SCHEMA_VERSION + 1
    future["new_field"] = {"kept": True}
    path = data_dir / "conversations" / f"{future['id']}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(future))
    store.refresh()
    assert [s.read_only for s in store.summaries()] == [True]
    loaded = store.load(future["id"])
    assert loaded.read_only
    loaded.add_user_message("try to write")
    with pytest.raises(StoreError, match="newer chat-tui"):
        store.save(loaded)
    assert json.loads(path.read_text()) == future


def test_version_1_files_are_read_without_loss(store: ConversationStore, data_dir: Path) -> None:
    old = {
        "schema_version": 1,
        "id": "old-one",
        "title": "Written by version 1",
        "created_at": "2026-01-01T10:00:00+00:00",
        "updated_at": "2026-01-01T10:05:00+00:00",
        "model": "gpt-4o",
        "system_prompt": "Be kind.",
        "messages": [
            {"role": "user", "content": "Hi", "created_at": "2026-01-01T10:00:00+00:00"},
            {
                "role": "assistant",
                "content": "Hello",
                "created_at": "2026-01-01T10:00:01+00:00",
                "status": "stopped",
            },
        ],
    }
    folder = data_dir / "conversations"
    folder.mkdir(parents=True)
    (folder / "old-one.json").write_text(json.dumps(old))
    loaded = store.load("old-one")
    assert (loaded.title, loaded.model, loaded.system_prompt) == (
        "Written by version 1",
        "gpt-4o",
        "Be kind.",
    )
    assert [(m.role, m.content, m.status, m.created_at) for m in loaded.messages] == [
        ("user", "Hi", "complete", "2026-01-01T10:00:00+00:00"),
        ("assistant", "Hello", "stopped", "2026-01-01T10:00:01+00:00"),
    ]
    store.save(loaded)
    rewritten = json.loads((folder / "old-one.json").read_text())
    assert rewritten["schema_version"] == SCHEMA_VERSION
    assert [m["content"] for m in rewritten["messages"]] == ["Hi", "Hello"]


def test_streaming_left_in_a_file_loads_as_interrupted(store: ConversationStore) -> None:
    conversation = conversation_with("Tell me a story")
    conversation.add_reply("gpt-test").content = "Once upon a"
    store.save(conversation, checkpoint=True)
    loaded = store.load(conversation.id)
    assert (loaded.messages[-1].status, loaded.messages[-1].content) == (
        "interrupted",
        "Once upon a",
    )


def test_delete_moves_to_trash_and_restore_brings_it_back(
    store: ConversationStore, data_dir: Path
) -> None:
    conversation = conversation_with("delete me")
    store.save(conversation)
    store.delete(conversation.id)
    assert not (data_dir / "conversations" / f"{conversation.id}.json").exists()
    assert (data_dir / "trash" / f"{conversation.id}.json").exists()
    store.refresh()
    assert store.summaries() == []
    assert [s.title for s in store.trash()] == ["delete me"]
    restored = store.restore(conversation.id)
    assert restored.title == "delete me"
    assert [s.title for s in store.summaries()] == ["delete me"]


def test_two_stores_racing_on_one_conversation_lose_nothing(data_dir: Path) -> None:
    first, second = ConversationStore(data_dir), ConversationStore(data_dir)
    mine = conversation_with("shared start", "shared answer")
    first.save(mine)
    theirs = second.load(mine.id)
    mine.add_user_message("from window one")
    theirs.add_user_message("from window two")
    first.save(mine)
    merged = second.save(theirs)
    contents = [m.content for m in merged.messages]
    assert contents == ["shared start", "shared answer", "from window two"]
    alternatives = merged.messages[2].alternatives
    assert [[m.content for m in branch] for branch in alternatives] == [["from window one"]]
    # The first window sees both when it saves next.
    mine.add_user_message("and more")
    again = first.save(mine)
    every_text = json.dumps(again.to_dict())
    for text in ("from window one", "from window two", "and more"):
        assert text in every_text
    first.close()
    second.close()


def test_search_finds_message_text_and_titles(store: ConversationStore) -> None:
    store.save(conversation_with("Recipe ideas", "Try a lentil soup with cumin."))
    store.save(conversation_with("Travel plans", "Kyoto in autumn is lovely."))
    store.save(conversation_with("中文对话", "我们讨论一下北京烤鸭的做法。"))
    store.refresh()
    assert [h.summary.title for h in store.search("lentil")] == ["Recipe ideas"]
    assert "lentil soup" in store.search("LENTIL")[0].snippet
    assert [h.summary.title for h in store.search("kyoto autumn")] == ["Travel plans"]
    assert [h.summary.title for h in store.search("北京烤鸭")] == ["中文对话"]
    assert [h.summary.title for h in store.search("tra")] == ["Travel plans"]
    assert [h.summary.title for h in store.search("中文")] == ["中文对话"]
    assert store.search("nothing like this") == []
