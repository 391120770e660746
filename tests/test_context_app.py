"""The server's own model and conversations longer than the context, in the app (Pilot)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from chat_tui.config import load_settings
from chat_tui.store import ConversationStore
from chat_tui.summarising import INSTRUCTION
from chat_tui.tui.screens.model_picker import ModelPicker
from chat_tui.tui.widgets.message_log import CONTEXT_MARK, MessageLog
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.status_bar import StatusBar
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    Notes,
    run_palette_command,
    saved_files,
    send,
    settings_with_config,
    settle,
    wait_for,
    wait_for_screen,
)
from tests.support.sample_data import seed_conversation

LONG = [f"Message {i}: " + "word " * 80 for i in range(20)]
"""Twenty messages of about a hundred tokens each."""
CID = "20250101-000000-aaaaaa"


def seed_long(data_dir: Path) -> None:
    store = ConversationStore(data_dir)
    try:
        seed_conversation(store, CID, *LONG, model="m")
    finally:
        store.close()


def long_conversation_app(fake: FakeOpenAI, make_app, data_dir: Path):
    """The app with the seeded long conversation open and a window of 1,000 tokens."""
    seed_long(data_dir)
    settings = settings_with_config(fake.base_url, 'model = "m"\ncontext_window = 1000\n')
    return make_app(settings, open_conversation=CID)


async def view_under_the_mark(pilot, log: MessageLog) -> MessageView:
    """Once the log marks where the sent context begins: the message view under the mark."""
    await wait_for(pilot, lambda: log.query_children(".context-mark"), "the context mark")
    mark = log.query_children(".context-mark").first()
    after = log.children[log.children.index(mark) + 1]
    assert isinstance(after, MessageView)
    return after


def status_of(app) -> tuple[str, bool]:
    bar = app.screen.query_one(StatusBar)
    return str(bar.render()), bar.has_class("-warning")


async def test_a_server_s_only_model_is_used_when_none_is_named(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.models = ["qwen2.5-7b-instruct"]
    app = make_app(load_settings(environ={}, cli={"base_url": fake.base_url, "max_retries": 0}))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hi")
        await settle(pilot)
        assert "qwen2.5-7b-instruct" in str(app.query_one("#conversation-model").render())
        reply = app.screen.query(MessageView)[-1]
        assert "qwen2.5-7b-instruct" in str(reply.query_one(".message-header").render())
    assert fake.chat_requests[0].body["model"] == "qwen2.5-7b-instruct"
    assert saved_files(data_dir)[0]["model"] == "qwen2.5-7b-instruct"


async def test_a_server_of_several_models_opens_the_picker(fake: FakeOpenAI, make_app) -> None:
    fake.models = ["a-model", "b-model"]
    app = make_app(load_settings(environ={}, cli={"base_url": fake.base_url, "max_retries": 0}))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hi")
        await wait_for_screen(pilot, ModelPicker)
        await pilot.press("escape")
        await settle(pilot)
        reply = app.screen.query(MessageView)[-1].message
        assert reply.status == "failed" and "serves 2 models" in (reply.error or "")
    assert fake.chat_requests == []


async def test_the_model_that_answered_is_shown_in_the_reply_header(
    fake: FakeOpenAI, make_app
) -> None:
    fake.add_text("Hello.", model="llama-3-8b-instruct.gguf")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hi")
        await settle(pilot)
        header = str(app.screen.query(MessageView)[-1].query_one(".message-header").render())
        assert "gpt-4o-mini · answered by llama-3-8b-instruct.gguf" in header


async def test_a_long_conversation_is_fitted_marked_and_kept_whole(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = long_conversation_app(fake, make_app, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Newest question")
        await settle(pilot)
        log = app.query_one(MessageLog)
        after = await view_under_the_mark(pilot, log)
        assert str(log.query_children(".context-mark").first().render()) == CONTEXT_MARK
        text, warning = status_of(app)
        assert text.endswith("/ 1k") and "context " in text and warning
    (request,) = fake.chat_requests
    assert len(request.messages) < len(LONG)
    first_sent = request.messages[0]["content"]
    assert after.message.content == first_sent
    saved = saved_files(data_dir)[0]["messages"]
    assert [m["content"] for m in saved[:20]] == LONG
    assert saved[-1]["sent_from"] == next(m["id"] for m in saved if m["content"] == first_sent)


async def test_the_context_mark_stays_when_another_window_adds_to_the_conversation(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    """The log is shown again with the other window's message: the mark comes back with it."""
    app = long_conversation_app(fake, make_app, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Newest question")
        await settle(pilot)
        log = app.query_one(MessageLog)
        marked = await view_under_the_mark(pilot, log)
        other = ConversationStore(data_dir)  # the other window's store
        try:
            theirs = other.load(CID)
            theirs.add_user_message("Asked in the other window")
            other.save(theirs)
        finally:
            other.close()

        def shown() -> bool:
            return any(v.message.content == "Asked in the other window" for v in log.views)

        await wait_for(pilot, shown, "the other window's message")
        await settle(pilot)
        assert len(log.query_children(".context-mark")) == 1
        assert (await view_under_the_mark(pilot, log)).message.id == marked.message.id


async def test_a_refusal_is_learned_retried_once_said_and_remembered(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    seed_long(data_dir)
    fake.context_window = 1200
    settings = settings_with_config(fake.base_url, 'model = "m"\n')
    notes = Notes()
    app = make_app(settings, open_conversation=CID)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "Newest question")
        await settle(pilot)
        assert "Context\nThe conversation is longer than m's context (1,200 tokens)" in notes.text
        assert pilot.app.screen.query(MessageView)[-1].message.status == "complete"
    assert len(fake.chat_requests) == 2
    async with make_app(settings, open_conversation=CID).run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "/ 1.2k" in status_of(pilot.app)[0], "the known window")


async def test_the_status_line_counts_the_server_s_usage(fake: FakeOpenAI, make_app) -> None:
    fake.add_text("Answer.", usage={"prompt_tokens": 3000, "completion_tokens": 100})
    settings = settings_with_config(fake.base_url, 'model = "m"\ncontext_window = 8192\n')
    async with make_app(settings).run_test(size=SIZE) as pilot:
        await send(pilot, "Hi")
        await settle(pilot)
        text, warning = status_of(pilot.app)
        assert text.startswith("↑ 3,000 ↓ 100 tokens · ") and not warning
        assert text.endswith(" · context 3.1k / 8.2k")


async def test_an_empty_stream_near_the_window_suggests_a_summary(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    seed_long(data_dir)
    fake.add(fault="empty")
    settings = settings_with_config(fake.base_url, 'model = "m"\ncontext_window = 1000\n')
    async with make_app(settings, open_conversation=CID).run_test(size=SIZE) as pilot:
        await send(pilot, "Newest question")
        await settle(pilot)
        error = pilot.app.screen.query(MessageView)[-1].message.error or ""
    assert error.startswith("The server ended the reply without any text or reason.")
    assert "probably too long" in error and "summarise earlier messages" in error


async def test_a_summary_is_written_shown_and_sent_in_place_of_what_it_covers(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    seed_long(data_dir)
    settings = settings_with_config(fake.base_url, 'model = "m"\ncontext_window = 2000\n')
    fake.add_text("They counted words from 0 to 19.")
    async with make_app(settings, open_conversation=CID).run_test(size=SIZE) as pilot:
        await run_palette_command(pilot, "conversation: summarise earlier messages")
        await settle(pilot)
        log = pilot.app.query_one(MessageLog)
        await wait_for(pilot, lambda: log.query_children(".summary-note"), "the summary note")
        note = str(log.query_children(".summary-note").first().render())
        assert note.endswith("They counted words from 0 to 19.")
        await send(pilot, "Next question")
        await settle(pilot)
    asking, answering = fake.chat_requests
    assert asking.messages[-1]["content"] == INSTRUCTION
    saved = saved_files(data_dir)[0]
    covered = [m["id"] for m in saved["messages"]].index(saved["summary"]["covers"]) + 1
    assert 0 < covered < len(LONG)
    assert answering.messages[0] == {
        "role": "system",
        "content": "Summary of the earlier conversation:\nThey counted words from 0 to 19.",
    }
    assert [m["content"] for m in answering.messages[1:]] == [
        *LONG[covered:],
        "Next question",
    ]
    assert len(saved["messages"]) == len(LONG) + 2  # the originals stay in the file


async def test_a_summary_being_written_stops_with_escape(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    seed_long(data_dir)
    settings = settings_with_config(fake.base_url, 'model = "m"\ncontext_window = 2000\n')
    settings = replace(settings, timeout=600)  # only Esc can end the request within the test
    gate = threading.Event()
    fake.add_text("Never finished.", gate=gate)
    async with make_app(settings, open_conversation=CID).run_test(size=SIZE) as pilot:
        await run_palette_command(pilot, "conversation: summarise earlier messages")
        await wait_for(pilot, lambda: fake.open_streams == 1, "the summary request")
        await pilot.press("escape")
        await wait_for(pilot, lambda: fake.open_streams == 0, "the request to close")
        await settle(pilot)
        assert status_of(pilot.app)[0] == "The summary was stopped; nothing changed."
    gate.set()
    assert "summary" not in saved_files(data_dir)[0]


async def test_a_stopped_reply_closes_the_window_probe_it_started(
    fake: FakeOpenAI, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window is asked for beside a short first request; Esc ends both requests."""
    from chat_tui import context_window

    monkeypatch.setattr(context_window, "PROBE_TIMEOUT", 600.0)  # only Esc can end it
    settings = settings_with_config(fake.base_url, 'model = "m"\n')
    settings = replace(settings, timeout=600)  # only Esc can end the requests within the test
    fake.props_held = True
    gate = threading.Event()
    fake.add_text("Never finished.", gate=gate)
    async with make_app(settings).run_test(size=SIZE) as pilot:
        await send(pilot, "Hello")
        await wait_for(pilot, lambda: fake.open_streams == 1, "the chat request")
        await wait_for(pilot, lambda: fake.props_waiting == 1, "the window probe")
        await pilot.press("escape")
        await wait_for(pilot, lambda: fake.open_streams == 0, "the chat request to close")
        await wait_for(pilot, lambda: fake.props_waiting == 0, "the probe to close")
    gate.set()
