"""A streaming reply against everything that can happen to the views it draws into.

The reply worker writes into a message view while the log replaces views (a conversation
switch and back), while a view is still mounting or is being taken away, and while it is being
stopped. Each test drives its interleaving on purpose, with the loopback server's gate or by
stepping the event loop to the exact moment, never by waiting for time to pass.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from textual.worker import Worker, WorkerState

from chat_tui.models import Message
from chat_tui.tools import loop
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import (
    MarkdownBody,
    MessageHeader,
    MessageView,
    ReplyRenderer,
)
from chat_tui.tui.widgets.status_bar import StatusBar
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    Notes,
    run_palette_command,
    saved_files,
    screen_of,
    send,
    settle,
    visible_text,
    wait_for,
)


class WorkerErrors:
    """Every worker that ended in an error (pass as `run_test(message_hook=...)`)."""

    def __init__(self) -> None:
        self.errors: list[BaseException | None] = []

    def __call__(self, message: object) -> None:
        if isinstance(message, Worker.StateChanged) and message.state == WorkerState.ERROR:
            self.errors.append(message.worker.error)


async def next_turns(turns: int) -> None:
    """Let the event loop run `turns` times round: every task ready now takes one step."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def test_a_stop_landing_as_the_screen_refreshes_still_ends_the_stream(
    fake: FakeOpenAI, make_app
) -> None:
    """The hang CI met in the copy tests, step by step.

    After each frame a reply's stream waits for the screen to refresh. A stop whose
    cancellation reached it in the very turn that refresh arrived was dropped (by
    `asyncio.wait_for` on Python 3.11): the stream waited for text for ever, and so did
    the reply worker stopping it, the test's wait for the worker, and the screen.
    """
    fake.add(deltas=["Ready."])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        view = app.screen.query(MessageView).last()
        body = view.query_one(MarkdownBody)
        for frame in range(5):
            stream = view.start_rendering()
            assert stream is not None
            pump = stream._task
            assert pump is not None
            stream.write(f"\n\nParagraph {frame}.")
            # The frame renders (the stream holds its lock meanwhile), then asks for the
            # screen's refresh; a turn later our callback is queued right behind that one.
            while not stream._rendering.locked():
                await next_turns(1)
            while stream._rendering.locked():
                await next_turns(1)
            await next_turns(2)
            body.call_after_refresh(pump.cancel)
            await wait_for(pilot, pump.done, "the stream to end after being cancelled", 10)
            await stream.stop()


async def test_a_view_takes_updates_before_it_is_mounted_and_while_it_is_removed(
    fake: FakeOpenAI, make_app
) -> None:
    """The reply worker redraws its view when the reply ends, whatever the log is doing."""
    fake.add(reasoning=["Hmm."], deltas=["Done."])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "think")
        await settle(pilot)
        view = app.screen.query(MessageView).last()
        reply = view.message
        reply.status, reply.error = "failed", "It broke."
        removal = view.remove()
        # Its header goes first; the view itself is still attached until its body is gone.
        while view.query_children(MessageHeader):
            await next_turns(1)
        assert view.is_attached
        view.refresh_meta()
        view.show_reasoning("Even more.")
        await removal
        view.refresh_meta()

        unmounted = MessageView(reply, 1)
        unmounted.refresh_meta()
        unmounted.show_reasoning("More thinking.")
        await screen_of(app).log_view.mount(unmounted)
        await pilot.pause()
        assert "It broke." in visible_text(app)
        assert "✗ failed" in visible_text(app)


async def test_the_reply_streams_into_whichever_view_shows_it(
    fake: FakeOpenAI, make_app, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first token held at the server, the reply's view is copied from the palette,
    replaced by a switch to another conversation and back, and only then does text flow."""
    monkeypatch.setenv("PATH", str(data_dir))  # no clipboard tool: the terminal gets it
    first_token = threading.Event()
    text = "Here it is:\n\n```python\nprint('late')\n```\n\nDone."
    errors = WorkerErrors()
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=errors) as pilot:
        await send(pilot, "older")
        await settle(pilot)
        fake.add_text(text, chunk=3, reasoning=["Planning. "], gate=first_token)
        await pilot.press("ctrl+n")
        await send(pilot, "streaming one")
        screen = screen_of(app)
        await wait_for(pilot, lambda: len(fake.chat_requests) == 2, "the second request")
        await wait_for(pilot, lambda: "Thinking" in str(app.query_one(StatusBar).render()))

        await run_palette_command(pilot, "message: copy")
        assert app.clipboard == ""  # the reply has no text yet
        listing = app.query_one(ConversationList)
        listing.focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.conversation.title == "older", "the switch")
        listing.focus()
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: screen.conversation.title == "streaming one", "the way back")

        first_token.set()
        await settle(pilot)
        view = app.screen.query(MessageView).last()
        assert view.message.status == "complete"
        assert view.message.content == text
        assert "print('late')" in visible_text(app) and "Done." in visible_text(app)
        assert "writing" not in str(view.query_one(MessageHeader).render())
        assert not view.has_class("-streaming")
        assert not screen.streaming
    assert errors.errors == []
    saved = {file["title"]: file["messages"] for file in saved_files(data_dir)}
    reply = saved["streaming one"][-1]
    assert (reply["status"], reply["content"], reply["reasoning"]) == (
        "complete",
        text,
        "Planning. ",
    )


async def test_a_bug_in_the_reply_worker_shows_as_an_error_and_ends_it(
    fake: FakeOpenAI, make_app, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever fails in the worker, the reply says so, is saved, and the next one can go."""

    async def broken(message: Message, *args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the worker")

    monkeypatch.setattr(loop, "fill_reply", broken)  # what the reply worker's loop streams with
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await settle(pilot)
        view = app.screen.query(MessageView).last()
        assert view.message.status == "failed"
        assert "Unexpected error: a bug in the worker" in visible_text(app)
        assert "a bug in the worker" in str(app.query_one(StatusBar).render())
        assert not screen_of(app).streaming
        monkeypatch.undo()
        await send(pilot, "second")
        await settle(pilot)
        assert app.screen.query(MessageView).last().message.content == "Echo: second"
    assert saved_files(data_dir)[0]["messages"][1]["status"] == "failed"


async def test_a_reply_that_cannot_be_drawn_is_reported_and_saved(
    fake: FakeOpenAI, make_app, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing the end of a reply fails: the screen says so and does not stay "streaming"."""

    async def broken(stream: ReplyRenderer, final_text: str) -> None:
        raise RuntimeError("cannot draw")

    monkeypatch.setattr(ReplyRenderer, "finish", broken)
    app, notes = make_app(), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "draw this")
        await settle(pilot)
        assert "The reply could not be shown\nRuntimeError: cannot draw" in notes.text
        assert not screen_of(app).streaming
        assert app.query_one(ConversationList).streaming_ids == set()
        assert "Thinking" not in str(app.query_one(StatusBar).render())
        assert "Streaming" not in str(app.query_one(StatusBar).render())
    reply = saved_files(data_dir)[0]["messages"][-1]
    assert (reply["status"], reply["content"]) == ("complete", "Echo: draw this")
