"""The status line: "Thinking… 1.2 s" while waiting, then the usage of the last reply."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from chat_tui import saver
from chat_tui.models import Usage
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.status_bar import StatusBar, usage_line
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    Notes,
    disk_full_after,
    saved_files,
    send,
    send_past_failing_saves,
    settle,
    wait_for,
)


def status_text(app) -> str:
    return str(app.query_one(StatusBar).render())


async def wait_for_status(pilot, pattern: str) -> str:
    await wait_for(
        pilot, lambda: re.search(pattern, status_text(pilot.app)), f"a status like {pattern!r}"
    )
    return status_text(pilot.app)


async def test_thinking_then_the_usage_of_the_reply(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    first_token = threading.Event()
    fake.add(
        deltas=["one ", "two ", "three"],
        first_delay=0.6,
        gate=first_token,
        delay=0.05,
        usage={"prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290},
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "count")
        thinking = await wait_for_status(pilot, r"Thinking… [0-9]+\.[0-9] s")
        assert thinking.endswith("(Esc to stop)")
        first_token.set()
        await settle(pilot)
        line = status_text(app)
        match = re.fullmatch(
            r"↑ 1,234 ↓ 56 tokens · first token ([0-9.]+) s · ([0-9.,]+) tok/s", line
        )
        assert match, line
        assert 0.5 <= float(match[1]) < 10
        assert float(match[2].replace(",", "")) > 0
    assert fake.chat_requests[0].body["stream_options"] == {"include_usage": True}
    usage = saved_files(data_dir)[0]["messages"][-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (1234, 56)
    assert usage["first_token_seconds"] >= 0.5


async def test_thinking_stays_up_while_only_reasoning_arrives(fake: FakeOpenAI, make_app) -> None:
    answer = threading.Event()
    fake.add(reasoning=["Let me ", "think. "] * 10, deltas=["Done."], answer_gate=answer)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "ponder")

        def reasoned() -> bool:
            reply = app.screen.query(MessageView).last().message
            return reply.reasoning == "Let me think. " * 10

        await wait_for(pilot, reasoned, "all the reasoning")
        # The status is redrawn every 0.1 s: look at one drawn after the reasoning arrived.
        shown = status_text(app)
        await wait_for(pilot, lambda: status_text(app) != shown, "the status to be redrawn")
        assert status_text(app).startswith("Thinking…")
        answer.set()
        await settle(pilot)
        assert "first token" in status_text(app)


def test_the_usage_line_reads_well() -> None:
    usage = Usage(
        prompt_tokens=31, completion_tokens=212, first_token_seconds=0.42, duration_seconds=4.8
    )
    assert usage_line(usage) == "↑ 31 ↓ 212 tokens · first token 0.42 s · 48.4 tok/s"
    fast = Usage(completion_tokens=5000, first_token_seconds=0.1, duration_seconds=2.1)
    assert usage_line(fast) == "↓ 5,000 tokens · first token 0.10 s · 2,500 tok/s"
    unreported = Usage(first_token_seconds=0.25, duration_seconds=3.0)
    assert usage_line(unreported) == "first token 0.25 s · 3.0 s"


async def test_not_saved_leaves_the_status_line_once_everything_is_on_disk(
    fake: FakeOpenAI, make_app, data_dir: Path, monkeypatch
) -> None:
    """The status line says a save failed while it fails; once the retry lands it goes back
    to the last reply's usage, not on saying "Not saved" until something else is shown."""
    monkeypatch.setattr(saver, "RETRY_SECONDS", 0.05)
    fake.add(deltas=["saved"], usage={"prompt_tokens": 1, "completion_tokens": 1})
    fake.add(deltas=["kept"], usage={"prompt_tokens": 3, "completion_tokens": 1})
    notes = Notes()
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        async with disk_full_after(pilot, data_dir, "first"):
            await send_past_failing_saves(pilot, "while the disk is full")
            await wait_for_status(pilot, r"^Not saved: .*Retrying…$")
        await settle(pilot)
        assert "Everything is on disk again" in notes.text
        assert status_text(app).startswith("↑ 3 ↓ 1 tokens · first token"), status_text(app)
