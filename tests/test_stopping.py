"""Stop means stop: however a reply ends early, its HTTP connection is closed at once.

A stopped reply whose connection stays open keeps the server generating (and, on a paid API,
billing) tokens nobody reads. Each test ends a reply early in one way (Esc, a switch and a
delete, a quit, ctrl+c in the shell, a timeout, a failing consumer), mostly against the loopback
server's reply that never ends (sent flat out, as fast as the client reads), and asks the
server how many answers it is still sending.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from chat_tui.client import ChatClient, Stopwatch
from chat_tui.config import Settings, load_settings
from chat_tui.models import Message
from chat_tui.replying import fill_reply
from chat_tui.tui.screens.modals import ConfirmDialog
from chat_tui.tui.screens.unsaved import UnsavedScreen
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import ChunkFrame, MessageView
from tests.support.disk import file_size_limit
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    eventually,
    saved_files,
    screen_of,
    send,
    settle,
    titles,
    wait_for_screen,
)
from tests.support.shell import TIMEOUT, Shell, make_shell

CLOSED_WITHIN = 3.0
"""Seconds the server may wait to see the client hang up after a reply ends early: the close
itself is immediate; the rest is slack for a busy test machine."""


def never_ending(fake: FakeOpenAI) -> None:
    """Queue a reply that streams "word " flat out until the client hangs up."""
    fake.add(deltas=["word "], endless=True)


async def streaming(pilot, fake: FakeOpenAI) -> None:
    """Wait until the reply is well under way (the server has sent many chunks)."""
    start = fake.chunks_sent
    assert await eventually(pilot, lambda: fake.chunks_sent > start + 50), "nothing streamed"
    assert fake.open_streams == 1


async def closed(pilot, fake: FakeOpenAI) -> bool:
    return await eventually(pilot, lambda: fake.open_streams == 0, CLOSED_WITHIN)


async def until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` without holding the event loop; False if `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# -- the reply, however its consumer ends ------------------------------------------------------


async def test_a_consumer_failing_between_two_events_closes_the_connection(
    fake: FakeOpenAI, settings: Settings
) -> None:
    never_ending(fake)
    client = ChatClient(settings.active_provider, timeout=10, max_retries=0)
    message = Message(role="assistant", content="", status="streaming")

    def broken(_text: str) -> None:
        if len(message.content) > 1000:
            raise RuntimeError("a bug in the consumer")

    stream = client.stream_reply([{"role": "user", "content": "Never stop"}], "gpt-4o-mini")
    await fill_reply(message, stream, watch=Stopwatch(), on_text=broken)
    assert message.status == "failed"
    assert "a bug in the consumer" in (message.error or "")
    assert await until(lambda: fake.open_streams == 0, CLOSED_WITHIN), "the server still sends"
    await client.close()


# -- the app ---------------------------------------------------------------------------------


async def test_escape_closes_the_connection(fake: FakeOpenAI, make_app, data_dir: Path) -> None:
    never_ending(fake)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Never stop")
        await streaming(pilot, fake)
        await pilot.press("escape")
        assert await closed(pilot, fake), "the server is still sending the stopped reply"
        await settle(pilot)
        reply = app.screen.query(MessageView)[-1].message
        assert reply.status == "stopped"
        assert reply.content.startswith("word word")
    assert saved_files(data_dir)[0]["messages"][-1]["status"] == "stopped"


async def test_a_reply_that_never_ends_is_cut_at_the_message_limit(
    fake: FakeOpenAI, settings: Settings
) -> None:
    """A server that never stops cannot make a message grow without bound: past the limit
    the reply is stopped, kept, explained, and its request closed."""
    never_ending(fake)
    client = ChatClient(settings.active_provider, timeout=10, max_retries=0)
    message = Message(role="assistant", content="", status="streaming")
    stream = client.stream_reply([{"role": "user", "content": "Never stop"}], "gpt-4o-mini")
    await fill_reply(message, stream, watch=Stopwatch(), max_chars=20_000)
    assert message.status == "failed"
    assert "passed 20,000 characters" in (message.error or "")
    assert 20_000 - len("word ") < len(message.content) <= 20_000
    assert await until(lambda: fake.open_streams == 0, CLOSED_WITHIN), "the server still sends"
    await client.close()


async def test_escape_before_the_server_answered_closes_the_connection(
    fake: FakeOpenAI, make_app
) -> None:
    fake.add(fault="no_headers")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Anyone there?")
        assert await eventually(pilot, lambda: fake.open_streams == 1)
        await pilot.press("escape")
        assert await closed(pilot, fake), "the server still holds the abandoned request"
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.status == "stopped"


async def test_a_reply_left_streaming_in_another_conversation_closes_when_stopped(
    fake: FakeOpenAI, make_app
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "older")
        await settle(pilot)
        never_ending(fake)
        await pilot.press("ctrl+n")
        await send(pilot, "Never stop")
        await streaming(pilot, fake)
        listing = app.query_one(ConversationList)
        listing.focus()
        await pilot.press("down", "enter")  # open "older": the reply goes on in the background
        await pilot.pause()
        assert screen_of(app).conversation.title == "older"
        await streaming(pilot, fake)
        listing.focus()
        await pilot.press("up", "enter")  # back to it, and stop it
        await pilot.pause()
        assert screen_of(app).conversation.title == "Never stop"
        await pilot.press("escape")
        assert await closed(pilot, fake), "the server is still sending the stopped reply"
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.status == "stopped"


async def test_deleting_a_streaming_conversation_stops_its_reply(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "older")
        await settle(pilot)
        never_ending(fake)
        await pilot.press("ctrl+n")
        await send(pilot, "Never stop")
        await streaming(pilot, fake)
        listing = app.query_one(ConversationList)
        listing.focus()
        await pilot.press("down", "enter")  # switch away from it...
        await pilot.pause()
        listing.focus()
        await pilot.press("up")  # ...and delete it from the sidebar
        assert listing.highlighted_id != screen_of(app).conversation.id
        await pilot.press("delete")
        await wait_for_screen(pilot, ConfirmDialog)
        assert "deleting stops it" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("enter")
        assert await closed(pilot, fake), "the deleted conversation's reply is still streaming"
        await settle(pilot)
        assert titles(app) == ["older"]
    [trashed] = [json.loads(p.read_text()) for p in (data_dir / "trash").iterdir()]
    assert trashed["title"] == "Never stop"
    assert trashed["messages"][-1]["status"] == "stopped"  # undo would bring it back whole
    assert trashed["messages"][-1]["content"].startswith("word word")


@pytest.mark.parametrize("key", ["ctrl+q", "/quit"])
async def test_quitting_mid_reply_closes_the_connection(
    fake: FakeOpenAI, make_app, data_dir: Path, key: str
) -> None:
    never_ending(fake)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Never stop")
        await streaming(pilot, fake)
        if key == "ctrl+q":
            await pilot.press("ctrl+q")
        else:
            await send(pilot, key)
        assert await closed(pilot, fake), "the server is still sending after the quit"
    assert app.return_code == 0
    assert saved_files(data_dir)[0]["messages"][-1]["status"] == "stopped"


async def test_quitting_mid_reply_with_a_full_disk_asks_but_the_reply_has_ended(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    """The question "Keep trying / Quit anyway" can stand for a long time: the reply it
    stopped must not go on streaming meanwhile."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "saved before the disk filled")
        await settle(pilot)
        never_ending(fake)
        await send(pilot, "Never stop")
        await streaming(pilot, fake)
        with file_size_limit(16):
            await pilot.press("ctrl+q")
            await wait_for_screen(pilot, UnsavedScreen)
            assert await closed(pilot, fake), "the server is still sending behind the dialog"
            assert app.is_running
            await pilot.click("#keep")  # stay: the stopped reply is drawn in full
            await settle(pilot)
            view = app.screen.query(MessageView)[-1]
            assert view.message.status == "stopped"
            shown = "".join(frame.markdown.source for frame in view.query(ChunkFrame))
            assert shown == view.message.content
            await pilot.press("ctrl+q")
            await wait_for_screen(pilot, UnsavedScreen)
            await pilot.click("#quit")
            await pilot.pause()
    assert app.return_code == 0


async def test_a_read_timeout_mid_reply_closes_the_connection(fake: FakeOpenAI, make_app) -> None:
    fake.add(deltas=["Some ", "text ", "never"], fault="hang", fault_after=2)
    settings = load_settings(
        environ={}, cli={"base_url": fake.base_url, "timeout": 1, "max_retries": 0}
    )
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Then go quiet")
        reply = lambda: app.screen.query(MessageView)[-1].message  # noqa: E731
        assert await eventually(pilot, lambda: reply().status == "failed")
        assert "stopped sending" in (reply().error or "")
        assert await closed(pilot, fake), "the server still holds the timed-out request"


async def test_quitting_while_the_server_has_not_answered_ends_at_once(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(fault="no_headers")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Anyone there?")
        assert await eventually(pilot, lambda: fake.open_streams == 1)
        started = time.monotonic()
        await pilot.press("ctrl+q")
        assert await eventually(pilot, lambda: not app.is_running, CLOSED_WITHIN)
        quit_took = time.monotonic() - started
        assert await closed(pilot, fake), "the server still holds the unanswered request"
    assert quit_took < CLOSED_WITHIN
    reply = saved_files(data_dir)[0]["messages"][-1]
    assert reply["status"] == "stopped" and reply["content"] == ""


# -- the shell -------------------------------------------------------------------------------


@pytest.fixture
def shell(isolated_dirs: Path, data_dir: Path) -> Shell:
    return make_shell(data_dir)


class Output:
    """Everything a process writes, read as it comes: a reply streamed flat out to a pipe
    nobody reads would block the process in a write, and a signal with it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._drain, args=(pipe, into), daemon=True)
            for pipe, into in ((process.stdout, self.stdout), (process.stderr, self.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, pipe: IO[bytes] | None, into: bytearray) -> None:
        assert pipe is not None
        while chunk := os.read(pipe.fileno(), 65536):
            with self._changed:
                into += chunk
                self._changed.notify_all()

    def wait_for(self, marker: bytes, after: int = 0) -> int:
        """Wait until `marker` is on stdout after position `after`; where it ends."""
        with self._changed:
            found = self._changed.wait_for(lambda: self.stdout.find(marker, after) >= 0, TIMEOUT)
            assert found, f"{marker!r} never came: {bytes(self.stdout[-300:])!r}"
            return self.stdout.find(marker, after) + len(marker)

    def finish(self) -> tuple[int, str]:
        """Wait for the process to end: its exit code and what it wrote to stderr."""
        code = self.process.wait(timeout=TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=TIMEOUT)
        return code, self.stderr.decode()


def test_ctrl_c_in_ask_closes_the_connection(shell: Shell, fake: FakeOpenAI) -> None:
    never_ending(fake)
    process = shell.start(
        "ask", "Never stop", "--base-url", fake.base_url, stdin=subprocess.DEVNULL
    )
    output = Output(process)
    output.wait_for(b"word word word")
    process.send_signal(signal.SIGINT)
    assert fake.streams_closed(within=CLOSED_WITHIN), "the server is still sending"
    code, errors = output.finish()
    assert code == 130, errors
    [saved] = shell.saved()
    assert saved["messages"][-1]["status"] == "stopped"


def test_ctrl_c_in_plain_closes_the_connection_and_the_chat_goes_on(
    shell: Shell, fake: FakeOpenAI
) -> None:
    never_ending(fake)
    process = shell.start("--plain", "--base-url", fake.base_url)
    assert process.stdin is not None
    output = Output(process)
    process.stdin.write(b"Never stop\n")
    process.stdin.flush()
    seen = output.wait_for(b"word word word")
    process.send_signal(signal.SIGINT)
    output.wait_for(b"[stopped]\n\nYou: ", seen)
    # The process goes on, waiting for the next prompt: only the reply has ended.
    assert fake.streams_closed(within=CLOSED_WITHIN), "the server is still sending"
    assert process.poll() is None
    process.stdin.close()
    code, errors = output.finish()
    assert code == 0, errors
    [saved] = shell.saved()
    assert saved["messages"][-1]["status"] == "stopped"
