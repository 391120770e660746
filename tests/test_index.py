"""The index is a cache of the conversation files: it follows them and never hides one.

Other programs (a sync tool, an editor, a second chat-tui, a crash) change the files behind
the app's back; every test here does exactly that to real files, then asks the store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_tui.index import INDEX_FORMAT, SYNC_BATCH, IndexBusy
from chat_tui.models import Conversation, Message
from chat_tui.store import ConversationStore
from tests.support.disk import index_written_by_another_process


def conversation(title: str, *texts: str) -> Conversation:
    made = Conversation(title=title, model="gpt-test")
    for n, text in enumerate(texts or (f"about {title}",)):
        made.messages.append(Message(role="user" if n % 2 == 0 else "assistant", content=text))
    return made


def write(folder: Path, made: Conversation) -> Path:
    """Write a conversation file the way another program might: in place, not atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{made.id}.json"
    path.write_text(json.dumps(made.to_dict(), ensure_ascii=False))
    return path


def titles(store: ConversationStore) -> set[str]:
    return {summary.title for summary in store.summaries()}


def test_a_file_added_behind_the_apps_back_is_listed(store: ConversationStore) -> None:
    store.save(conversation("saved by the app"))
    store.refresh()
    write(store.conversations_dir, conversation("copied in by a sync tool"))
    assert titles(store) == {"saved by the app"}  # not yet: nothing looked at the disk
    store.refresh()
    assert titles(store) == {"saved by the app", "copied in by a sync tool"}


def test_closing_the_store_stops_a_refresh_and_the_next_one_finishes_it(
    store: ConversationStore,
) -> None:
    """The app closes the store when it quits: a first build of thousands of files still
    running then must not hold up the exit."""
    for n in range(SYNC_BATCH + 50):
        write(store.conversations_dir, conversation(f"number {n}"))
    batches: list[int] = []

    def closed_after_the_first_batch(done: int, total: int) -> None:
        batches.append(done)
        store.close()  # as the quitting app does, from another thread

    assert store.refresh(progress=closed_after_the_first_batch) == []
    assert batches == [SYNC_BATCH]
    assert len(titles(store)) == SYNC_BATCH
    store.refresh()
    assert len(titles(store)) == SYNC_BATCH + 50


def test_a_file_changed_behind_the_apps_back_is_read_again(store: ConversationStore) -> None:
    made = conversation("before", "the old text")
    store.save(made)
    store.refresh()
    data = made.to_dict()
    data["title"], data["messages"][0]["content"] = "after!", "the new text"
    (store.conversations_dir / f"{made.id}.json").write_text(json.dumps(data))
    store.refresh()
    assert titles(store) == {"after!"}
    assert [hit.summary.title for hit in store.search("new text")] == ["after!"]
    assert store.search("old text") == []


def test_a_same_size_edit_with_the_old_time_put_back_is_still_seen(
    store: ConversationStore,
) -> None:
    made = conversation("AAAA")
    path = store.conversations_dir / f"{made.id}.json"
    store.save(made)
    store.refresh()
    before = os.stat(path)
    path.write_text(path.read_text().replace('"AAAA"', '"BBBB"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -r` or rsync -t
    assert os.stat(path).st_size == before.st_size
    store.refresh()
    assert titles(store) == {"BBBB"}


def test_a_file_deleted_behind_the_apps_back_is_dropped(store: ConversationStore) -> None:
    kept, gone = conversation("kept"), conversation("gone")
    store.save(kept)
    store.save(gone)
    store.refresh()
    (store.conversations_dir / f"{gone.id}.json").unlink()
    store.refresh()
    assert titles(store) == {"kept"}
    assert store.search("gone") == []


def test_a_corrupted_file_is_reported_then_listed_again_once_repaired(
    store: ConversationStore,
) -> None:
    made = conversation("fragile")
    store.save(made)
    store.refresh()
    path = store.conversations_dir / f"{made.id}.json"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # a crash half-way through someone's write
    problems = store.refresh()
    assert [problem.path for problem in problems] == [path]
    assert titles(store) == set()
    assert path.read_bytes() == good[: len(good) // 2]  # left as it was
    path.write_bytes(good)
    assert store.refresh() == []
    assert titles(store) == {"fragile"}


def test_a_corrupted_index_is_rebuilt_while_the_app_runs(
    store: ConversationStore, data_dir: Path
) -> None:
    for n in range(5):
        store.save(conversation(f"number {n}"))
    store.refresh()
    assert len(store.summaries()) == 5
    database = data_dir / "index.sqlite3"
    with open(database, "r+b") as handle:  # scribble over the middle of the open database
        handle.seek(1024)
        handle.write(os.urandom(8192))
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    store.close()  # the next query opens the damaged file
    store.refresh()
    assert titles(store) == {f"number {n}" for n in range(5)}


def test_an_index_another_process_is_writing_is_read_meanwhile_never_thrown_away(
    data_dir: Path,
) -> None:
    """A second chat-tui holds the index's write lock (it is re-indexing): this one lists
    what the index holds at once, and the new file from its header; it is told the index is
    busy instead of waiting on it, and catches up once the lock is free. The other
    process's index is never deleted."""
    first = ConversationStore(data_dir)
    first.save(conversation("indexed earlier"))
    first.refresh()
    first.close()
    database = data_dir / "index.sqlite3"
    inode = os.stat(database).st_ino
    write(data_dir / "conversations", conversation("copied in meanwhile"))
    store = ConversationStore(data_dir)
    try:
        with index_written_by_another_process(database) as writer:
            assert titles(store) == {"indexed earlier"}
            with pytest.raises(IndexBusy):
                store.refresh(wait=False)
            assert titles(store) == {"indexed earlier", "copied in meanwhile"}
            assert [hit.summary.title for hit in store.search("copied")] == ["copied in meanwhile"]
            assert [hit.summary.title for hit in store.search("about")] == ["indexed earlier"]
            writer.finish()
            store.refresh(wait=False)
            assert titles(store) == {"indexed earlier", "copied in meanwhile"}
            assert len(store.search("about")) == 2
        assert os.stat(database).st_ino == inode
    finally:
        store.close()


def test_an_index_from_another_format_is_rebuilt(store: ConversationStore, data_dir: Path) -> None:
    store.save(conversation("survivor"))
    store.close()
    with sqlite3.connect(data_dir / "index.sqlite3") as db:
        db.execute("UPDATE meta SET value = 'old' WHERE key = 'format'")
        db.execute("DELETE FROM conversations")
    store.refresh()
    assert titles(store) == {"survivor"}
    with sqlite3.connect(data_dir / "index.sqlite3") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == (
            INDEX_FORMAT,
        )


def test_rows_the_index_lost_or_invented_are_put_right(
    store: ConversationStore, data_dir: Path
) -> None:
    real = conversation("real")
    store.save(real)
    store.save(conversation("also real"))
    store.close()
    with sqlite3.connect(data_dir / "index.sqlite3") as db:
        db.execute("DELETE FROM conversations WHERE id = ?", (real.id,))
        db.execute(
            "INSERT INTO conversations(id, mtime_ns, size, title) VALUES ('ghost', 1, 1, 'ghost')"
        )
    store.refresh()
    assert titles(store) == {"real", "also real"}


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["add", "edit", "delete", "corrupt", "repair", "damage index", "refresh"]),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(OPERATIONS)
def test_the_index_never_loses_a_conversation_that_is_on_disk(operations) -> None:
    """Whatever happens behind its back, after a refresh the sidebar lists exactly the
    readable files, with their current titles."""
    with tempfile.TemporaryDirectory() as home:
        root = Path(home)
        folder = root / "conversations"
        store = ConversationStore(root)
        store.refresh()
        slots: dict[int, Conversation] = {}
        good: dict[int, bytes] = {}
        version = 0
        try:
            for operation, slot in operations:
                version += 1
                path = folder / f"slot-{slot}.json"
                if operation in ("add", "edit"):
                    made = conversation(f"slot {slot} v{version}")
                    made.id = f"slot-{slot}"
                    slots[slot] = made
                    write(folder, made)
                    good[slot] = path.read_bytes()
                elif operation == "delete" and path.exists():
                    path.unlink()
                    slots.pop(slot, None)
                elif operation == "corrupt" and path.exists():
                    path.write_bytes(b'{"schema_version": 2, "id": ')
                elif operation == "repair" and slot in slots:
                    path.write_bytes(good[slot])
                elif operation == "damage index":
                    store.close()
                    database = root / "index.sqlite3"
                    if database.exists():
                        database.write_bytes(os.urandom(2048))
                elif operation == "refresh":
                    store.refresh()
            store.refresh()
            on_disk = {}
            for slot, made in slots.items():
                path = folder / f"slot-{slot}.json"
                if path.exists() and path.read_bytes() == good[slot]:
                    on_disk[made.id] = made.title
            listed = {summary.id: summary.title for summary in store.summaries()}
            assert listed == on_disk
        finally:
            store.close()


def test_search_lists_the_newest_matches_first_and_stops_at_the_limit(
    store: ConversationStore,
) -> None:
    for n in range(12):
        made = conversation(f"soup {n:02d}", f"a lentil soup, version {n}")
        made.updated_at = f"2026-01-{n + 1:02d}T10:00:00.000+00:00"
        store.save(made)
    store.refresh()
    hits = store.search("lentil", limit=5)
    assert [hit.summary.title for hit in hits] == [f"soup {n:02d}" for n in (11, 10, 9, 8, 7)]
    assert all("lentil soup" in hit.snippet for hit in hits)


def test_a_conversation_saved_again_moves_to_the_top_of_search_results(
    store: ConversationStore,
) -> None:
    older = conversation("older", "cumin and lentils")
    newer = conversation("newer", "cumin and rice")
    older.updated_at = "2026-01-01T10:00:00.000+00:00"
    newer.updated_at = "2026-01-02T10:00:00.000+00:00"
    store.save(older)
    store.save(newer)
    assert [hit.summary.title for hit in store.search("cumin")] == ["newer", "older"]
    older.messages.append(Message(role="user", content="more cumin"))
    older.updated_at = "2026-01-03T10:00:00.000+00:00"
    store.save(older)
    assert [hit.summary.title for hit in store.search("cumin")] == ["older", "newer"]


def test_a_match_in_the_title_only_gives_no_snippet(store: ConversationStore) -> None:
    store.save(conversation("Kyoto trip", "temples and gardens"))
    [hit] = store.search("kyoto")
    assert hit.summary.title == "Kyoto trip"
    assert hit.snippet == ""
    [hit] = store.search("garden")
    assert hit.snippet.startswith("temples and garden")


SHORT_TEXT = st.text(alphabet="北京烤鸭美食ÄäßΣσ a,.，。é1Z\n", min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(text=SHORT_TEXT, start=st.integers(0, 39), length=st.integers(1, 2))
def test_every_short_non_ascii_piece_of_the_text_finds_it(
    text: str, start: int, length: int
) -> None:
    """One- and two-character words in scripts without spaces go through the pieces table;
    whatever the text, a piece of it always finds it, and nothing else does."""
    word = text[start % len(text) :][:length]
    if word.isascii() or any(char.isspace() for char in word):
        return
    with tempfile.TemporaryDirectory() as folder:
        store = ConversationStore(Path(folder))
        try:
            store.save(conversation("the one", text))
            store.save(conversation("another", "nothing to see"))
            found = [hit.summary.title for hit in store.search(word)]
            assert found == ["the one"], (text, word)
        finally:
            store.close()


def test_a_short_chinese_word_not_in_the_text_finds_nothing(store: ConversationStore) -> None:
    store.save(conversation("中文对话", "我们讨论一下北京烤鸭的做法。"))
    assert [hit.summary.title for hit in store.search("北京")] == ["中文对话"]
    assert [hit.summary.title for hit in store.search("京烤")] == ["中文对话"]
    assert "北京" in store.search("北京")[0].snippet
    assert store.search("上海") == []
    assert store.search("鸭北") == []
