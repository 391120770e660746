"""A new machine, a restored backup, a deleted index, a sync of many files: the app lists
the conversations from their files at once and catches up with the index in the background.

The index is held before it reads any file whole (`held_index`), so each test sees what
the app shows before indexing ends, then lets it finish.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_tui.index import SYNC_BATCH, ConversationIndex
from chat_tui.models import Conversation, Message
from chat_tui.store import ConversationStore
from chat_tui.tui.widgets.conversation_list import ConversationList
from tests.support.pilot import SIZE, eventually, titles, visible_text, wait_for


class Gate:
    """Lets the index read a file whole only when the test allows it."""

    def __init__(self) -> None:
        self._allowed = threading.Semaphore(0)
        self.opened = False

    def allow(self, files: int) -> None:
        for _ in range(files):
            self._allowed.release()

    def open(self) -> None:
        self.opened = True
        self.allow(100_000)

    def wait(self) -> None:
        """Until allowed; or, should the test fail first, long enough for it to report."""
        self._allowed.acquire(timeout=40)


@pytest.fixture
def held_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    read_file = ConversationIndex._read_file

    def read_when_allowed(index: ConversationIndex, conversation_id: str):  # type: ignore[no-untyped-def]
        gate.wait()
        return read_file(index, conversation_id)

    monkeypatch.setattr(ConversationIndex, "_read_file", read_when_allowed)
    yield gate
    gate.open()  # a test that failed must not leave a thread waiting


def minute(n: int) -> str:
    hours, minutes = divmod(n, 60)
    return f"2026-11-{1 + hours // 24:02d}T{hours % 24:02d}:{minutes:02d}:00.000+00:00"


def synced_conversation(
    folder: Path, n: int, *, title: str = "", text: str = "", active: int | None = None
) -> str:
    """Conversation `n` as a sync tool writes it (a temporary file renamed into place),
    last active at minute `active` (`n` unless given), with its file's time to match."""
    active = n if active is None else active
    made = Conversation(id=f"20261101-000000-{n:06d}", title=title or f"Topic {n}", model="m")
    made.messages = [
        Message(role="user", content=f"question {n}"),
        Message(role="assistant", content=text or f"the answer is needle{n}"),
    ]
    made.created_at, made.updated_at = minute(n), minute(active)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{made.id}.json.tmp"
    temporary.write_text(json.dumps(made.to_dict(), indent=1))
    when = 1_790_000_000 + active * 60
    os.utime(temporary, (when, when))
    os.replace(temporary, folder / f"{made.id}.json")
    return made.id


async def test_with_no_index_the_newest_are_listed_before_indexing_and_one_opens(
    make_app, data_dir: Path, held_index: Gate
) -> None:
    folder = data_dir / "conversations"
    count = 150
    for n in range(count):
        synced_conversation(folder, n)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: len(titles(app)) == count, "every conversation listed")
        assert titles(app)[:3] == ["Topic 149", "Topic 148", "Topic 147"]
        assert app.store.coverage() == (0, count)  # nothing read whole yet
        assert screen.sidebar.status_text == f"Indexing conversations… 0 of {count}"
        listing = app.query_one(ConversationList)
        listing.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "needle149" in visible_text(app), "the newest to open")
        assert screen.conversation.title == "Topic 149"
        held_index.open()
        await wait_for(pilot, lambda: not screen.sidebar.status_text, "indexing to end")
        assert app.store.coverage() is None
        assert titles(app)[0] == "Topic 149"


async def test_the_collector_finds_no_idle_moment_while_the_index_catches_up(
    make_app, data_dir: Path, held_index: Gate
) -> None:
    """The index holds a batch of files it reads whole: a reclaim then walks the whole heap
    and finds them alive."""
    folder = data_dir / "conversations"
    for n in range(20):
        synced_conversation(folder, n)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: len(titles(app)) == 20, "every conversation listed")
        app._last_input = 0.0  # nobody has typed for long
        indexing, quiet = screen.indexing, app.quiet
        held_index.open()
        assert (indexing, quiet) == (True, False)
        await wait_for(pilot, lambda: not screen.sidebar.status_text, "indexing to end")
        await wait_for(pilot, lambda: app.quiet, "a quiet moment")


async def test_search_says_what_it_has_covered_and_its_results_fill_in(
    make_app, data_dir: Path, held_index: Gate
) -> None:
    """The newest files are read whole first: a search finds their text while the older
    ones wait, says how many it covered, and finds the rest once they are read."""
    folder = data_dir / "conversations"
    count = SYNC_BATCH + 50
    for n in range(count):
        text = f"a zebra, number {n}" if n % 10 == 0 else ""
        synced_conversation(folder, n, text=text)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        sidebar = app.screen.sidebar
        await wait_for(pilot, lambda: len(titles(app)) == count, "every conversation listed")
        sidebar.search_box.value = "zebra"
        await wait_for(
            pilot, lambda: sidebar.status_text.startswith("Searched 0 of"), "a search at 0"
        )
        assert titles(app) == []  # no title says zebra, and no text is indexed yet
        held_index.allow(SYNC_BATCH)  # the newest 200 files: conversations 50 to 249
        await wait_for(
            pilot,
            lambda: sidebar.status_text == f"Searched {SYNC_BATCH} of {count} conversations…",
            "the first batch to be searched",
        )
        newest = [f"Topic {n}" for n in range(count - 1, 49, -1) if n % 10 == 0]
        await wait_for(pilot, lambda: titles(app) == newest, "the newest matches")
        held_index.open()
        every = [f"Topic {n}" for n in range(count - 1, -1, -1) if n % 10 == 0]
        await wait_for(pilot, lambda: titles(app) == every, "every match")
        await wait_for(pilot, lambda: not sidebar.status_text, "the status line to go")


async def test_files_a_sync_changes_under_the_running_app_are_listed_and_searched(
    make_app, data_dir: Path
) -> None:
    folder = data_dir / "conversations"
    for n in range(30):
        synced_conversation(folder, n)
    indexed = ConversationStore(data_dir)
    indexed.refresh()
    indexed.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        sidebar = app.screen.sidebar
        await wait_for(pilot, lambda: len(titles(app)) == 30, "the indexed conversations")
        for n in (100, 101, 102):  # new ones
            synced_conversation(folder, n)
        for n in (3, 4):  # older ones changed elsewhere: now the newest of all
            text = f"edited on the laptop ({n})"
            synced_conversation(folder, n, title=f"Edited {n}", text=text, active=200 + n)
        expected = ["Edited 4", "Edited 3", "Topic 102", "Topic 101", "Topic 100", "Topic 29"]
        assert await eventually(pilot, lambda: titles(app)[:6] == expected, 30), titles(app)
        assert len(titles(app)) == 33
        sidebar.search_box.value = "laptop"
        await wait_for(pilot, lambda: titles(app) == ["Edited 4", "Edited 3"], "new text found")
        sidebar.search_box.value = "needle101"
        await wait_for(pilot, lambda: titles(app) == ["Topic 101"], "a new file's text found")
