"""Two chat-tui processes on one data directory, as in two terminals: nothing lost or broken.

The processes share the files, the write lock and the index. Each save carries a revision;
a process that finds the file changed since it last read it merges instead of overwriting.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from chat_tui.models import Conversation, Message
from chat_tui.store import ConversationStore
from chat_tui.tui.app import ChatApp
from chat_tui.tui.screens.chat import ChatScreen
from chat_tui.tui.screens.modals import ConfirmDialog
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import MessageView
from tests.support.disk import index_written_by_another_process
from tests.support.loopback import FakeOpenAI, Reply
from tests.support.pilot import SIZE, eventually, screen_text, send, settle
from tests.support.pty import Terminal


def open_terminal(chat_tui, fake: FakeOpenAI, *args: str) -> Terminal:
    terminal = chat_tui("--base-url", fake.base_url, *args, size=SIZE)
    terminal.wait_for("Ask anything" if not args else "gpt-4o-mini")
    return terminal


def quit_all(*terminals: Terminal) -> None:
    for terminal in terminals:
        terminal.type("\x11")  # ctrl+q
        assert terminal.wait() == 0


def every_message(messages: list[dict]) -> list[dict]:
    """Messages of the visible path and of every alternative version, depth first."""
    found: list[dict] = []
    for message in messages:
        found.append(message)
        for branch in message.get("alternatives", []):
            found.extend(every_message(branch))
    return found


def conversations_on_disk(data_dir: Path) -> dict[str, dict]:
    files = sorted((data_dir / "conversations").glob("*.json"))
    return {p.stem: json.loads(p.read_text("utf-8")) for p in files}


def test_each_process_sees_the_others_conversations_and_messages(
    fake: FakeOpenAI, data_dir: Path, chat_tui
) -> None:
    first = open_terminal(chat_tui, fake)
    second = open_terminal(chat_tui, fake)

    first.type("alpha topic\r")
    first.wait_for("Echo: alpha topic")
    second.wait_for("alpha topic")  # a new conversation appears in the other sidebar

    second.click_on("alpha topic")
    second.wait_for("Echo: alpha topic")
    second.type("beta follow-up\r")
    second.wait_for("Echo: beta follow-up")

    first.wait_for("Echo: beta follow-up")  # the open conversation shows the other's messages
    first.type("gamma from the first\r")
    first.wait_for("Echo: gamma from the first")
    second.wait_for("Echo: gamma from the first")

    quit_all(first, second)
    (saved,) = conversations_on_disk(data_dir).values()
    assert [m["content"] for m in saved["messages"]] == [
        "alpha topic",
        "Echo: alpha topic",
        "beta follow-up",
        "Echo: beta follow-up",
        "gamma from the first",
        "Echo: gamma from the first",
    ]


def test_two_replies_streaming_into_one_conversation_are_both_kept(
    fake: FakeOpenAI, data_dir: Path, chat_tui
) -> None:
    store = ConversationStore(data_dir)
    shared = Conversation(model="gpt-4o-mini", title="Shared")
    shared.messages = [
        Message(role="user", content="Shared"),
        Message(role="assistant", content="Both windows show this.", model="gpt-4o-mini"),
    ]
    store.save(shared)
    store.close()

    def slow_reply(messages: list[dict]) -> Reply:
        asked = messages[-1]["content"]
        return Reply(deltas=[f"{asked}-{n} " for n in range(60)], delay=0.04)

    fake.reply_for = slow_reply  # three seconds each: several checkpoints race
    first = open_terminal(chat_tui, fake, "--open", shared.id)
    second = open_terminal(chat_tui, fake, "--open", shared.id)
    first.type("left\r")
    second.type("right\r")
    first.wait_for("left-59")
    second.wait_for("right-59")
    quit_all(first, second)

    saved = conversations_on_disk(data_dir)[shared.id]
    messages = every_message(saved["messages"])
    by_content = {m["content"]: m for m in messages}
    for side in ("left", "right"):
        assert side in by_content
        reply = by_content["".join(f"{side}-{n} " for n in range(60))]
        assert reply["status"] == "complete"
    assert [m["content"] for m in saved["messages"][:2]] == ["Shared", "Both windows show this."]
    assert len(messages) == 6  # two shared, and one prompt and reply from each window


_WRITER = textwrap.dedent(
    """
    import random, sys, time
    from pathlib import Path
    from chat_tui.store import ConversationStore

    root, conversation_id, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    count = int(sys.argv[4])
    store = ConversationStore(root)
    conversation = store.load(conversation_id)
    for n in range(count):
        conversation.add_user_message(f"{name} {n}")
        conversation = store.save(conversation)
        time.sleep(random.random() / 100)
    store.close()
    """
)


def test_two_writers_racing_on_one_file_lose_nothing(data_dir: Path) -> None:
    """Two processes each append 40 messages to one conversation as fast as they can."""
    store = ConversationStore(data_dir)
    shared = Conversation(model="m", title="Race")
    shared.add_user_message("Race")
    store.save(shared)
    store.close()
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(data_dir), shared.id, name, "40"])
        for name in ("one", "two")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    saved = conversations_on_disk(data_dir)[shared.id]
    contents = {m["content"] for m in every_message(saved["messages"])}
    for name in ("one", "two"):
        for n in range(40):
            assert f"{name} {n}" in contents


def test_a_snapshot_older_than_the_file_is_merged_not_written(data_dir: Path) -> None:
    """A save of a copy read before the last save (a conversation reopened while its
    previous save was landing) must not overwrite what that save wrote."""
    store = ConversationStore(data_dir)
    stale = Conversation(model="m", title="Stale")
    stale.add_user_message("first")
    store.save(stale)
    fresh = store.load(stale.id)
    fresh.add_user_message("written by the fresh copy")
    store.save(fresh)
    stale.add_user_message("written by the stale copy")
    store.save(stale)
    saved = conversations_on_disk(data_dir)[stale.id]
    contents = {m["content"] for m in every_message(saved["messages"])}
    assert {"first", "written by the fresh copy", "written by the stale copy"} <= contents
    store.close()


def sidebar_lines(app: ChatApp) -> str:
    listing = app.query_one(ConversationList)
    return "\n".join("".join(segment.text for segment in listing.render_line(y)) for y in range(6))


async def test_while_another_process_fills_the_index_the_files_are_listed_and_it_says_so(
    make_app, data_dir: Path
) -> None:
    """Another chat-tui is building the index (it holds the write lock): the sidebar lists
    every conversation from its file at once, and says under the search box that it is
    waiting for the index; once the lock is free, search finds their text too."""
    folder = data_dir / "conversations"
    folder.mkdir(parents=True)
    for n in range(3):
        made = Conversation(model="m", title=f"On disk {n}")
        made.add_user_message(f"hello number{n}")
        (folder / f"{made.id}.json").write_text(json.dumps(made.to_dict()))
    empty = ConversationStore(data_dir)
    assert empty.summaries() == []  # the index exists, with nothing in it yet
    empty.close()
    with index_written_by_another_process(data_dir / "index.sqlite3") as writer:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            sidebar = app.screen.sidebar
            assert await eventually(
                pilot, lambda: all(f"On disk {n}" in sidebar_lines(app) for n in range(3)), 30
            ), sidebar_lines(app)
            assert await eventually(
                pilot, lambda: "Waiting for the index" in sidebar.status_text, 30
            ), sidebar.status_text
            writer.finish()
            assert await eventually(pilot, lambda: not sidebar.status_text, 30)
            sidebar.search_box.value = "number1"
            assert await eventually(
                pilot,
                lambda: "On disk 1" in sidebar_lines(app) and "On disk 2" not in sidebar_lines(app),
                30,
            ), sidebar_lines(app)


async def test_a_conversation_deleted_while_another_process_streams_into_it_shows_no_dot(
    make_app, data_dir: Path
) -> None:
    """Another process streams a reply into a conversation this one deletes: its saves
    bring the file back, then its reply ends. Nothing streams here, so at no point may
    anything here look like it does (the sidebar's dot, a reply's "● writing…")."""
    other = ConversationStore(data_dir)  # the other process's store
    shared = Conversation(model="m", title="Shared")
    shared.add_user_message("Shared")
    reply = shared.add_reply("m")
    reply.content = "first words"
    other.save(shared, checkpoint=True)
    app = make_app(open_conversation=shared.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "●" not in screen_text(app)
        listing = app.query_one(ConversationList)
        listing.focus()
        listing.highlighted = listing.index_of(shared.id)
        await pilot.press("delete")
        await eventually(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        await settle(pilot)
        assert "Shared" not in sidebar_lines(app)
        reply.content += " and more"
        other.save(shared, checkpoint=True)  # its next checkpoint writes the file again
        assert await eventually(pilot, lambda: "Shared" in sidebar_lines(app), 30)
        assert "●" not in screen_text(app)
        listing.highlighted = listing.index_of(shared.id)
        listing.focus()
        await pilot.press("enter")  # open it while the other process still writes it
        await settle(pilot)
        assert "first words and more" in screen_text(app)
        assert "●" not in screen_text(app)
        reply.content += ", done."
        reply.status = "complete"
        other.save(shared)

        def finished() -> bool:
            return [v.message.status for v in app.screen.query(MessageView)][-1:] == ["complete"]

        assert await eventually(pilot, finished, 30)
        await pilot.pause()
        assert "first words and more, done." in screen_text(app)
        assert "●" not in screen_text(app)
    other.close()


async def test_a_reply_another_process_left_streaming_is_never_shown_as_writing_here(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    """A reply streams in another process, whose last save lands while this one writes a
    reply of its own; then that process dies. This process merges the file when it saves:
    the other reply must look interrupted here, as it does when read any other way, and
    not "● writing…" for ever."""
    other = ConversationStore(data_dir)  # the other process's store
    shared = Conversation(model="gpt-4o-mini", title="Shared")
    shared.add_user_message("Shared")
    theirs = shared.add_reply("gpt-4o-mini")
    theirs.content = "their first words"
    other.save(shared, checkpoint=True)
    first_token = threading.Event()
    fake.add(deltas=["mine"], gate=first_token)
    app = make_app(open_conversation=shared.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await send(pilot, "and me")
        assert await eventually(pilot, lambda: bool(screen.streaming))
        theirs.content += " and their last"
        other.save(shared, checkpoint=True)  # its last save: then it is gone
        folder = data_dir / "conversations"
        # The directory watch has seen that save (while this reply streamed, so it did not
        # read the file): only the merge of this process's own save brings it in.
        assert await eventually(
            pilot, lambda: screen._directory_stamp == folder.stat().st_mtime_ns, 30
        )
        first_token.set()
        await settle(pilot)
        await pilot.pause()
        views = list(screen.query(MessageView))
        assert [v.message.content for v in views] == [
            "Shared",
            "their first words and their last",
            "and me",
            "mine",
        ]
        assert views[1].message.status == "interrupted"
        assert "●" not in screen_text(app)
    other.close()


async def test_the_streaming_dot_goes_when_a_reply_ends_as_another_process_saves(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    """Another process saves the open conversation while a reply streams here: the reply's
    last save merges that in and re-shows the log, as the reply's final text renders.
    The sidebar's dot must still go the moment the reply ends, every time."""
    other = ConversationStore(data_dir)  # the other process's store
    shared = Conversation(model="gpt-4o-mini", title="Shared")
    shared.add_user_message("Shared")
    other.save(shared)
    app = make_app(open_conversation=shared.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        for turn in range(10):
            first_token = threading.Event()
            fake.add(deltas=[f"reply {turn}"], gate=first_token)
            try:
                await send(pilot, f"prompt {turn}")
                assert await eventually(pilot, lambda: bool(screen.streaming)), turn
                copy = other.load(shared.id)
                copy.system_prompt = f"changed elsewhere {turn}"
                other.save(copy)
            finally:
                first_token.set()
            async with asyncio.timeout(60):  # the reply's end once waited for ever here
                await settle(pilot)
            assert not screen.streaming
            assert "●" not in sidebar_lines(app), (turn, sidebar_lines(app))
    other.close()
