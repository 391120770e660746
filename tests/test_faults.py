"""The fault matrix: every way a server fails, through the real SDK and the real app.

For each fault the app keeps running; the reply says what happened and what to do; the
partial reply is kept and marked (in memory and in the JSON); and one key (ctrl+r) tries
again, keeping the failed reply as an earlier version.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chat_tui.config import load_settings
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.status_bar import StatusBar
from tests.support.loopback import FakeOpenAI, closed_port, unanswered_port
from tests.support.pilot import SIZE, saved_files, send, settle, wait_for

PARTIAL = ["partial ", "answer "]
"""What the server sends before a mid-reply fault."""


@dataclass(frozen=True)
class Fault:
    name: str
    reply: dict[str, Any] | None = None
    """Queued on the fake server; None when the fault is the address itself."""
    address: str = "fake"
    """"fake", "refused" (nothing listening), "dns" (unknown host), "unanswered" (the
    connection is never accepted)."""
    words: tuple[str, ...] = ()
    """Must all appear in the message: what happened, then what to do."""
    content: str = ""
    status: str = "failed"
    stop_with_escape: bool = False


FAULTS = [
    Fault(
        "401 bad key",
        {"status": 401, "error_message": "Incorrect API key provided"},
        words=("rejected the API key (401)", "Incorrect API key", "Set a valid key"),
    ),
    Fault(
        "403 forbidden",
        {"status": 403, "error_message": "Project does not have access"},
        words=("refused access (403)", "not allowed", "permissions"),
    ),
    Fault(
        "404 unknown model",
        {"status": 404, "error_message": "The model `gpt-4o-mini` does not exist"},
        words=("has no model 'gpt-4o-mini' (404)", "Choose another model with ctrl+o"),
    ),
    Fault(
        "400 context too long",
        {
            "status": 400,
            "error_message": "This model's maximum context length is 8192 tokens",
            "error_code": "context_length_exceeded",
        },
        words=("too long", "8192 tokens", "new conversation (ctrl+n)"),
    ),
    Fault(
        "429 with retry-after",
        {"status": 429, "error_message": "Rate limit reached", "headers": {"retry-after": "7"}},
        words=("rate limiting requests (429)", "Wait 7 s", "ctrl+r to retry"),
    ),
    Fault(
        "429 without retry-after",
        {"status": 429, "error_message": "Rate limit reached"},
        words=("rate limiting requests (429)", "Wait a moment", "ctrl+r to retry"),
    ),
    Fault(
        "500",
        {"status": 500, "error_message": "The server had an error"},
        words=("server error (500)", "usually temporary", "ctrl+r to retry"),
    ),
    Fault(
        "502",
        {"status": 502, "error_message": "Bad gateway"},
        words=("server error (502)", "Bad gateway", "ctrl+r to retry"),
    ),
    Fault(
        "503",
        {"status": 503, "error_message": "Overloaded"},
        words=("server error (503)", "Overloaded", "ctrl+r to retry"),
    ),
    Fault(
        "connection refused",
        address="refused",
        words=("Cannot reach", "connection refused", "base_url", "ctrl+r to retry"),
    ),
    Fault(
        "unknown host (DNS)",
        address="dns",
        words=("Cannot reach no-such-host.invalid", "could not be resolved", "ctrl+r"),
    ),
    Fault(
        "connect timeout",
        address="unanswered",
        words=("did not accept the connection within 1 s", "ctrl+r to retry"),
    ),
    Fault(
        "no answer after connecting",
        {"fault": "no_headers"},
        words=("sent nothing for 1 s", "timeout", "ctrl+r to retry"),
    ),
    Fault(
        "server stops sending mid-reply",
        {"deltas": [*PARTIAL, "never"], "fault": "hang", "fault_after": 2},
        words=("stopped sending in the middle of the reply", "text so far is kept", "ctrl+r"),
        content="".join(PARTIAL),
    ),
    Fault(
        "connection cut mid-reply",
        {"deltas": [*PARTIAL, "never"], "fault": "drop", "fault_after": 2},
        words=("connection broke in the middle of the reply", "closed the connection", "ctrl+r"),
        content="".join(PARTIAL),
    ),
    Fault(
        "malformed SSE frame",
        {"deltas": [*PARTIAL, "never"], "fault": "malformed", "fault_after": 2},
        words=("cannot read", "text so far is kept", "ctrl+r to retry"),
        content="".join(PARTIAL),
    ),
    Fault(
        "error frame mid-stream",
        {
            "deltas": [*PARTIAL, "never"],
            "fault": "error_frame",
            "fault_after": 2,
            "error_message": "The model crashed",
        },
        words=("error during the reply", "The model crashed", "ctrl+r to retry"),
        content="".join(PARTIAL),
    ),
    Fault(
        "empty reply",
        {"deltas": []},
        words=("without sending any text", "ctrl+r to retry"),
    ),
    Fault(
        "reply that never ends (Esc)",
        {"deltas": ["word "] * 2000, "delay": 0.02},
        status="stopped",
        stop_with_escape=True,
    ),
]


def _settings(base_url: str, *, max_retries: int = 0):
    return load_settings(
        environ={},
        cli={
            "base_url": base_url,
            "model": "gpt-4o-mini",
            "timeout": 1,
            "max_retries": max_retries,
        },
    )


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault_is_explained_kept_marked_and_retried_with_one_key(
    fault: Fault, fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    with contextlib.ExitStack() as stack:
        port = 0
        if fault.address == "fake":
            base_url = fake.base_url
            fake.add(**fault.reply)  # type: ignore[arg-type]
        elif fault.address == "refused":
            port = closed_port()
            base_url = f"http://127.0.0.1:{port}/v1"
        elif fault.address == "unanswered":
            unanswered = contextlib.ExitStack()
            port = unanswered.enter_context(unanswered_port())
            stack.enter_context(unanswered)
            base_url = f"http://127.0.0.1:{port}/v1"
        else:
            base_url = "http://no-such-host.invalid/v1"
        app = make_app(_settings(base_url))
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "Tell me something")
            if fault.stop_with_escape:
                await wait_for(pilot, lambda: fake.chunks_sent >= 20, "twenty chunks")
                await pilot.press("escape")
            await settle(pilot)

            assert app.is_running
            reply = app.screen.query(MessageView)[-1].message
            assert reply.role == "assistant"
            assert reply.status == fault.status
            if fault.stop_with_escape:
                assert reply.content.startswith("word word") and len(reply.content) < 2000 * 5
                header = str(
                    app.screen.query(MessageView)[-1].query_one(".message-header").render()
                )
                assert "stopped" in header
            else:
                assert reply.content == fault.content
                shown = str(app.screen.query(MessageView)[-1].query_one(".message-error").render())
                status_line = str(app.query_one(StatusBar).render())
                for words in fault.words:
                    assert words in reply.error, reply.error
                    assert words in shown
                assert fault.words[0] in status_line
                assert "Traceback" not in reply.error
            on_disk = saved_files(data_dir)[0]["messages"]
            assert on_disk[0]["content"] == "Tell me something"
            assert (on_disk[-1]["status"], on_disk[-1]["content"]) == (reply.status, reply.content)
            assert on_disk[-1].get("error") == reply.error
            first_attempts = len(fake.chat_requests)

            # The server (or the network) recovers; ctrl+r asks again.
            if fault.address in ("refused", "unanswered"):
                stack.close()  # the unanswered listener, if any, goes away
                recovered = FakeOpenAI().start(port=port)
                stack.callback(recovered.stop)
                recovered.add(deltas=["recovered"])
                retry_server = recovered
            else:
                fake.add(deltas=["recovered"])
                retry_server = fake
            if fault.address != "dns":
                await pilot.press("ctrl+r")
                await settle(pilot)
                views = app.screen.query(MessageView)
                assert [v.message.content for v in views] == ["Tell me something", "recovered"]
                assert views[-1].message.status == "complete"
                assert "‹ 2/2 ›" in str(views[-1].query_one(".message-header").render())
                assert retry_server.chat_requests[-1].messages == [
                    {"role": "user", "content": "Tell me something"}
                ]
                saved = saved_files(data_dir)[0]["messages"][-1]
                assert saved["content"] == "recovered"
                earlier = saved["alternatives"][0][0]
                assert (earlier["status"], earlier["content"]) == (reply.status, reply.content)
            else:
                # Nothing can fix DNS from here: ctrl+r tries again and explains again.
                await pilot.press("ctrl+r")
                await settle(pilot)
                views = app.screen.query(MessageView)
                assert views[-1].message.status == "failed"
                assert "‹ 2/2 ›" in str(views[-1].query_one(".message-header").render())
        if fault.address == "fake" and not fault.stop_with_escape:
            assert first_attempts == 1, "max_retries=0 means exactly one request"


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_the_sdk_retries_with_backoff_and_the_text_arrives_once(
    status: int, fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    for _ in range(2):
        fake.add(status=status, error_message="try later", headers={"retry-after-ms": "20"})
    fake.add(deltas=["fine ", "answer"])
    app = make_app(_settings(fake.base_url, max_retries=2))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await settle(pilot)
        reply = app.screen.query(MessageView)[-1].message
        assert (reply.status, reply.content, reply.error) == ("complete", "fine answer", None)
    assert [r.headers.get("x-stainless-retry-count") for r in fake.chat_requests] == [
        "0",
        "1",
        "2",
    ]
    assert saved_files(data_dir)[0]["messages"][-1]["content"] == "fine answer"


async def test_retries_that_run_out_say_how_often_they_tried(fake: FakeOpenAI, make_app) -> None:
    for _ in range(3):
        fake.add(status=503, error_message="Overloaded", headers={"retry-after-ms": "10"})
    app = make_app(_settings(fake.base_url, max_retries=2))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await settle(pilot)
        reply = app.screen.query(MessageView)[-1].message
    assert reply.status == "failed"
    assert "(503)" in reply.error and "tried 3 times" in reply.error
    assert len(fake.chat_requests) == 3


async def test_a_refused_connection_is_retried_until_the_server_is_up(make_app) -> None:
    port = closed_port()
    server = FakeOpenAI()
    # The first attempt is refused; the SDK backs off (about half a second) and tries again.
    starter = threading.Timer(0.15, lambda: server.start(port=port).add(deltas=["up now"]))
    app = make_app(_settings(f"http://127.0.0.1:{port}/v1", max_retries=2))
    try:
        async with app.run_test(size=SIZE) as pilot:
            starter.start()
            await send(pilot, "anyone there?")
            await settle(pilot)
            reply = app.screen.query(MessageView)[-1].message
            assert (reply.status, reply.content) == ("complete", "up now")
    finally:
        starter.cancel()
        server.stop()
    assert len(server.chat_requests) == 1


async def test_a_fault_after_text_arrived_is_not_retried_so_nothing_is_shown_twice(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(deltas=[*PARTIAL, "lost"], fault="drop", fault_after=2)
    app = make_app(_settings(fake.base_url, max_retries=2))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await settle(pilot)
        assert len(fake.chat_requests) == 1
        view = app.screen.query(MessageView)[-1]
        assert (view.message.status, view.message.content) == ("failed", "partial answer ")
        assert view.query_one("Markdown").source == "partial answer "
        fake.add(deltas=["partial ", "answer ", "in full"])
        await pilot.press("ctrl+r")
        await settle(pilot)
        views = app.screen.query(MessageView)
        assert [v.message.content for v in views] == ["question", "partial answer in full"]
        assert "‹ 2/2 ›" in str(views[-1].query_one(".message-header").render())
    saved = saved_files(data_dir)[0]["messages"]
    assert [m["content"] for m in saved] == ["question", "partial answer in full"]
    assert [m["content"] for m in saved[-1]["alternatives"][0]] == ["partial answer "]
