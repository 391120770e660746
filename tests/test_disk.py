"""Damaged, newer and unwritable files: the app starts, says what is wrong, and loses nothing.

Disk full is made real with RLIMIT_FSIZE (root ignores permissions, not file size limits), so
every write past the limit fails with EFBIG, in this process, exactly like a full disk.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from chat_tui import saver
from chat_tui.models import SCHEMA_VERSION, Conversation, Message
from chat_tui.store import ConversationStore
from chat_tui.tui.screens.chat import ChatScreen
from chat_tui.tui.screens.unsaved import UnsavedScreen
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.status_bar import StatusBar
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    Notes,
    disk_full_after,
    saved_files,
    send,
    send_past_failing_saves,
    settle,
)
from tests.support.shell import make_shell

BROKEN = {
    "20260101-000000-trunc1.json": b'{"schema_version": 2, "id": "20260101-000000-trunc1", "ti',
    "20260101-000000-notjs1.json": b"\x00\x01 this is not JSON at all \xff",
    "20260101-000000-shape1.json": b'{"schema_version": 2, "id": "x", "messages": {"a": 1}}',
    "20260101-000000-list01.json": b"[1, 2, 3]",
    "20260101-000000-deep01.json": b"[" * 100_000,
}


def good_conversation(store: ConversationStore, title: str = "A good one") -> Conversation:
    conversation = Conversation(model="gpt-4o-mini", title=title)
    conversation.messages = [
        Message(role="user", content=title),
        Message(role="assistant", content="Still here.", model="gpt-4o-mini"),
    ]
    store.save(conversation)
    return conversation


async def test_unreadable_files_are_named_left_untouched_and_the_rest_is_shown(
    fake: FakeOpenAI, make_app, store: ConversationStore, data_dir: Path
) -> None:
    good = good_conversation(store)
    folder = data_dir / "conversations"
    for name, raw in BROKEN.items():
        (folder / name).write_bytes(raw)
    notes = Notes()
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        await settle(pilot)
        assert app.is_running
        listing = app.query_one(ConversationList)
        assert [row.title for row in listing.rows] == ["A good one"]
        shown = notes.text
        assert "Some conversations could not be read" in shown
        for name in BROKEN:
            assert name in shown
        assert "left untouched" in shown
        # The good conversation opens and works; a new one can be written next to them.
        listing.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert [v.message.content for v in app.screen.query(MessageView)] == [
            "A good one",
            "Still here.",
        ]
        await send(pilot, "and more")
        await settle(pilot)
        await pilot.press("ctrl+q")
    for name, raw in BROKEN.items():
        assert (folder / name).read_bytes() == raw
    assert sorted(p.name for p in folder.iterdir()) == sorted([*BROKEN, f"{good.id}.json"])
    saved = json.loads((folder / f"{good.id}.json").read_text())
    assert [m["content"] for m in saved["messages"]][-2:] == ["and more", "Echo: and more"]


async def test_opening_an_unreadable_file_names_it_and_starts_a_new_conversation(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    folder = data_dir / "conversations"
    folder.mkdir(parents=True)
    name = "20260101-000000-trunc1.json"
    (folder / name).write_bytes(BROKEN[name])
    notes = Notes()
    app = make_app(open_conversation=name.removesuffix(".json"))
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        await settle(pilot)
        assert "Cannot open" in notes.text
        assert name in notes.text
        assert not app.screen.query(MessageView)
        await send(pilot, "fresh start")
        await settle(pilot)
    assert (folder / name).read_bytes() == BROKEN[name]
    others = [p for p in folder.glob("*.json") if p.name != name]
    assert [json.loads(p.read_text())["title"] for p in others] == ["fresh start"]


async def test_a_file_from_a_newer_chat_tui_is_shown_read_only_and_never_downgraded(
    fake: FakeOpenAI, make_app, store: ConversationStore, data_dir: Path
) -> None:
    future = good_conversation(store, "From the future").to_dict()
    future["schema_version"] = SCHEMA_VERSION + 1
    future["shiny_new_field"] = {"kept": True}
    future["messages"][1]["new_part"] = ["also kept"]
    path = data_dir / "conversations" / f"{future['id']}.json"
    raw = json.dumps(future, indent=2).encode()
    path.write_bytes(raw)
    notes = Notes()
    app = make_app(open_conversation=future["id"])
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen) and screen.conversation.read_only
        assert "read-only" in str(screen.query_one("#conversation-title").render())
        assert [v.message.content for v in screen.query(MessageView)] == [
            "From the future",
            "Still here.",
        ]
        await send(pilot, "try to add")
        await settle(pilot)
        assert "read-only" in str(app.query_one(StatusBar).render())
        assert app.query_one(PromptInput).text == "try to add"  # the prompt is not lost
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+q")
    assert fake.chat_requests == []
    assert path.read_bytes() == raw


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry failed saves every 50 ms instead of every few seconds."""
    monkeypatch.setattr(saver, "RETRY_SECONDS", 0.05)


async def test_a_full_disk_keeps_everything_in_memory_tells_the_person_and_retries(
    fake: FakeOpenAI, make_app, data_dir: Path, quick_retries: None
) -> None:
    notes = Notes()
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        async with disk_full_after(pilot, data_dir, "saved before the disk filled") as before:
            await send_past_failing_saves(pilot, "written while the disk is full")
            # Told: a notification that stays, the top bar, the status line.
            shown = notes.text
            assert "Not saved: saved before the disk filled" in shown
            assert "stays in memory" in shown
            assert "not saved yet" in str(app.screen.query_one("#conversation-title").render())
            # Kept in memory and still working: the reply arrived, the next one too.
            await send_past_failing_saves(pilot, "and another")
            contents = [v.message.content for v in app.screen.query(MessageView)]
            assert contents[-4:] == [
                "written while the disk is full",
                "Echo: written while the disk is full",
                "and another",
                "Echo: and another",
            ]
            assert saved_files(data_dir) == before  # the old file is intact
            # Quitting now would lose them: the app asks, and staying is the default.
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert isinstance(app.screen, UnsavedScreen)
            question = str(app.screen.query_one("#unsaved-text").render())
            assert "saved before the disk filled" in question
            assert "could not write" in question
            await pilot.press("escape")
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, ChatScreen)
        # Space again: the saver's retry lands without anyone doing anything.
        await settle(pilot)
        assert "Saved: saved before the disk filled" in notes.text
        assert "not saved yet" not in str(app.screen.query_one("#conversation-title").render())
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    messages = saved_files(data_dir)[0]["messages"]
    assert [m["content"] for m in messages] == [
        "saved before the disk filled",
        "Echo: saved before the disk filled",
        "written while the disk is full",
        "Echo: written while the disk is full",
        "and another",
        "Echo: and another",
    ]


async def test_quit_anyway_with_a_full_disk_leaves_the_last_good_file(
    fake: FakeOpenAI, make_app, data_dir: Path, quick_retries: None
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        async with disk_full_after(pilot, data_dir, "kept") as before:
            await send_past_failing_saves(pilot, "lost on purpose")
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert isinstance(app.screen, UnsavedScreen)
            await pilot.click("#quit")
            await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0
    assert saved_files(data_dir) == before


def _set_modes(root: Path, *, writable: bool) -> None:
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        if path.is_dir():
            path.chmod(0o700 if writable else 0o500)
        else:
            path.chmod(0o600 if writable else 0o400)


def test_a_read_only_data_directory_is_reported_kept_in_memory_and_retried(
    fake: FakeOpenAI, store: ConversationStore, data_dir: Path, chat_tui
) -> None:
    """A real chat-tui process held to file permissions (root's override dropped)."""
    old = good_conversation(store, "Old and safe")
    store.refresh()
    store.close()
    old_file = data_dir / "conversations" / f"{old.id}.json"
    old_bytes = old_file.read_bytes()
    _set_modes(data_dir, writable=False)
    terminal = chat_tui("--base-url", fake.base_url, size=SIZE, obey_permissions=True)
    try:
        terminal.wait_for("Old and safe")  # the rest is shown
        terminal.wait_for("Ask anything")
        terminal.type("hello read-only\r")
        terminal.wait_for("Not saved: hello read-only")  # told, and why
        terminal.wait_for("Permission")
        terminal.wait_for("not saved yet")
        terminal.wait_for("Echo: hello")  # the app keeps working
        assert old_file.read_bytes() == old_bytes
        terminal.type("\x11")  # ctrl+q: asked, not dropped
        terminal.wait_for("Quit anyway")
        terminal.type("\x1b")  # Esc: keep trying
        _set_modes(data_dir, writable=True)  # the person fixes the permissions
        terminal.wait_for("Everything is on disk again")  # the saver's retry landed
        terminal.type("\x11")
        assert terminal.wait() == 0
    finally:
        _set_modes(data_dir, writable=True)
    assert old_file.read_bytes() == old_bytes
    new = [p for p in (data_dir / "conversations").glob("*.json") if p != old_file]
    assert len(new) == 1
    messages = json.loads(new[0].read_text())["messages"]
    assert [m["content"] for m in messages] == ["hello read-only", "Echo: hello read-only"]


async def test_a_data_directory_that_cannot_be_created_is_reported_and_retried(
    fake: FakeOpenAI, make_app, data_dir: Path, quick_retries: None
) -> None:
    """Even root cannot create a directory under a file: the first save fails until the
    person moves the file away."""
    blocker = data_dir.parent
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the data directory should be")
    notes = Notes()
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        await send_past_failing_saves(pilot, "where does this go")
        assert app.is_running
        assert app.screen.query(MessageView)[-1].message.content == "Echo: where does this go"
        assert "Not saved: where does this go" in notes.text
        blocker.unlink()
        await settle(pilot)
        assert "Saved: where does this go" in notes.text
    assert [m["content"] for m in saved_files(data_dir)[0]["messages"]] == [
        "where does this go",
        "Echo: where does this go",
    ]


def only_conversations(store: ConversationStore, data_dir: Path) -> list[Conversation]:
    """Two saved conversations, in a data directory that then holds only `conversations/`
    (a backup restored by a tool that drops empty folders)."""
    made = [good_conversation(store, "First of two"), good_conversation(store, "Second of two")]
    store.close()
    for path in data_dir.iterdir():
        if path.name != "conversations":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return made


def test_a_read_only_data_directory_is_listed_and_exported_by_the_shell_commands(
    store: ConversationStore, data_dir: Path
) -> None:
    first, second = only_conversations(store, data_dir)
    shell = make_shell(data_dir)
    _set_modes(data_dir, writable=False)
    try:
        listed = shell.run("list", obey_permissions=True)
        exported = shell.run("export", "--all", "--format", "json", obey_permissions=True)
    finally:
        _set_modes(data_dir, writable=True)
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [second.id, first.id]
    assert (exported.returncode, exported.stderr) == (0, "")
    assert [c["title"] for c in json.loads(exported.stdout)] == ["First of two", "Second of two"]
    assert [p.name for p in data_dir.iterdir()] == ["conversations"]


def test_a_read_only_data_directory_is_listed_and_opened_and_the_app_says_so_once(
    fake: FakeOpenAI, store: ConversationStore, data_dir: Path, chat_tui
) -> None:
    """A real chat-tui process held to file permissions (root's override dropped)."""
    first, _ = only_conversations(store, data_dir)
    _set_modes(data_dir, writable=False)
    try:
        terminal = chat_tui(
            "--base-url", fake.base_url, "--open", first.id, size=SIZE, obey_permissions=True
        )
        terminal.wait_for("Nothing can be saved")
        terminal.wait_for("Permission denied")  # and why
        terminal.wait_for("Second of two")  # listed
        terminal.wait_for("Still here.")  # the open conversation's reply
        terminal.type("\x11")
        assert terminal.wait() == 0
    finally:
        _set_modes(data_dir, writable=True)
    assert [p.name for p in data_dir.iterdir()] == ["conversations"]


async def test_a_fifo_where_a_draft_belongs_neither_stalls_the_app_nor_its_prompts(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    """Read as a file, a FIFO waits for a writer for ever: showing the conversation never
    ended, and Enter, which waits for a switch to end, sent nothing."""
    fake.add_text("Hello.")
    (data_dir / "drafts").mkdir(parents=True, exist_ok=True)
    os.mkfifo(data_dir / "drafts" / "new.txt")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "First")
        await settle(pilot)
        assert [m.content for m in app.screen.conversation.messages] == ["First", "Hello."]
    assert len(fake.chat_requests) == 1


async def test_the_app_says_once_that_nothing_can_be_saved_and_keeps_typed_prompts(
    fake: FakeOpenAI, make_app, store: ConversationStore, data_dir: Path
) -> None:
    """Even root cannot create a directory where a file is: drafts are kept in memory."""
    first = good_conversation(store, "First of two")
    second = good_conversation(store, "Second of two")
    (data_dir / "trash").rmdir()
    for name in ("drafts", "trash"):
        (data_dir / name).write_text(f"a file where the {name} directory should be")
    notes = Notes()
    app = make_app(open_conversation=first.id)
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await pilot.press(*"unsent words")
        await screen.open_conversation(second.id)
        await settle(pilot)
        assert app.query_one(PromptInput).text == ""
        await screen.open_conversation(first.id)
        screen.refresh_sidebar()
        await settle(pilot)
        assert app.query_one(PromptInput).text == "unsent words"
        assert [row.title for row in screen.query_one(ConversationList).rows] == [
            "Second of two",
            "First of two",
        ]
    told = [text for text in notes.texts if text.startswith("Nothing can be saved")]
    assert len(told) == 1
    assert "trash: File exists" in told[0]
