"""A streaming reply against everything that can happen to the views it draws into.

The reply worker writes into a message view while the log replaces views (a conversation
switch and back), while a view is still mounting or is being taken away, and while it is being
stopped. Each test drives its interleaving on purpose, with the loopback server's gate or by
stepping the event loop to the exact moment, never by waiting for time to pass.
"""

from __future__ import annotations

import asyncio

from chat_tui.widgets.message_view import MarkdownBody, MessageView
from tests.fake_openai import FakeOpenAI
from tests.test_app import SIZE, send, settle
from tests.ui import wait_for


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
            stream = view.start_stream()
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
