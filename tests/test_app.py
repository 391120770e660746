"""The real app, driven by keys through Pilot, talking to the loopback server."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Markdown
from textual.widgets._markdown import MarkdownFence, MarkdownTable

from chat_tui.config import load_settings
from chat_tui.drafts import NEW_CONVERSATION
from chat_tui.tui.screens.setup import SetupDialog
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_log import MessageLog
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.status_bar import StatusBar
from tests.support.loopback import FakeOpenAI, Reply
from tests.support.pilot import SIZE, saved_files, screen_of, send, settle, visible_text, wait_for


async def test_send_streams_a_markdown_reply_and_saves_it(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    reply = (
        "# Plan\n\nSteps:\n\n1. mix\n2. bake\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```python\nprint('done')\n```\n"
    )
    fake.add_text(reply, chunk=3)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "How do I bake bread?")
        await settle(pilot)
        views = app.screen.query(MessageView)
        assert [v.message.role for v in views] == ["user", "assistant"]
        assert views[1].message.content == reply
        assert views[1].message.status == "complete"
        assert app.screen.query(MarkdownTable)
        fence = app.screen.query_one(MarkdownFence)
        assert "print('done')" in fence.code
        assert app.query_one(PromptInput).text == ""
    files = saved_files(data_dir)
    assert len(files) == 1
    assert files[0]["title"] == "How do I bake bread?"
    assert [(m["role"], m["content"], m["status"]) for m in files[0]["messages"]] == [
        ("user", "How do I bake bread?", "complete"),
        ("assistant", reply, "complete"),
    ]


async def test_every_request_carries_the_whole_conversation(
    fake: FakeOpenAI, make_app, settings
) -> None:
    app = make_app(
        load_settings(
            environ={},
            cli={"base_url": fake.base_url, "system_prompt": "Be brief.", "max_retries": 0},
        )
    )
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        await settle(pilot)
        await send(pilot, "two")
        await settle(pilot)
    assert fake.chat_requests[1].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "Echo: one"},
        {"role": "user", "content": "two"},
    ]


async def test_newline_keys_and_blank_input(fake: FakeOpenAI, make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press("a", "ctrl+j", "b")
        assert prompt.text == "a\nb"
        prompt.clear()
        await pilot.press("space", "space", "ctrl+j", "enter")
        await settle(pilot)
        assert fake.chat_requests == []
        assert not app.screen.query(MessageView)
        await send(pilot, "line one\nline two")
        await settle(pilot)
    assert fake.chat_requests[0].messages[-1]["content"] == "line one\nline two"


async def test_escape_stops_a_reply_and_keeps_the_partial_text(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(deltas=["word "] * 400, delay=0.02)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Write a lot")
        await wait_for(pilot, lambda: fake.chunks_sent >= 10, "ten chunks")
        await pilot.press("escape")
        await settle(pilot)
        reply_view = app.screen.query(MessageView)[-1]
        assert reply_view.message.status == "stopped"
        assert reply_view.message.content.startswith("word word")
        assert len(reply_view.message.content) < 400 * 5
        assert "stopped" in str(reply_view.query_one(".message-header").render())
    saved = saved_files(data_dir)[0]["messages"][-1]
    assert saved["status"] == "stopped"
    assert saved["content"] == reply_view.message.content


async def test_a_failed_request_explains_and_keeps_everything(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(deltas=["partial ", "answer ", "more"], fault="drop", fault_after=2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Explain")
        await settle(pilot)
        reply_view = app.screen.query(MessageView)[-1]
        assert reply_view.message.status == "failed"
        assert reply_view.message.content == "partial answer "
        error_text = str(reply_view.query_one(".message-error").render())
        assert "connection broke" in error_text
        status = str(app.query_one(StatusBar).render())
        assert "connection broke" in status
        # The app keeps working: the next prompt gets an answer.
        await send(pilot, "Again")
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.content == "Echo: Again"
    messages = saved_files(data_dir)[0]["messages"]
    assert messages[1]["status"] == "failed"
    assert messages[1]["content"] == "partial answer "
    assert "connection broke" in messages[1]["error"]


async def test_prompt_typed_while_a_reply_streams_is_kept(fake: FakeOpenAI, make_app) -> None:
    fake.add(deltas=["slow "] * 1000, delay=0.05)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await pilot.press(*"next question")
        await pilot.press("enter")  # refused while streaming: the text stays
        await pilot.pause()
        assert app.query_one(PromptInput).text == "next question"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.content == "Echo: next question"


async def test_new_conversation_and_switching_keep_full_history(fake: FakeOpenAI, make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first topic")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert not app.screen.query(MessageView)
        await send(pilot, "second topic")
        await settle(pilot)
        listing = app.query_one(ConversationList)
        assert [row.title for row in listing.rows] == ["second topic", "first topic"]
        listing.focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert screen_of(app).conversation.title == "first topic"
        assert [v.message.content for v in app.screen.query(MessageView)] == [
            "first topic",
            "Echo: first topic",
        ]
        # Mouse: click the other row (row 0 is at the top of the list).
        await pilot.click(ConversationList, offset=(5, 0))
        await settle(pilot)
        assert screen_of(app).conversation.title == "second topic"


async def test_everything_is_there_after_a_restart(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await send(pilot, "remember this")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await send(pilot, "and this")
        await settle(pilot)
        await pilot.press("ctrl+q")
    second = make_app()
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = second.query_one(ConversationList)
        assert [row.title for row in listing.rows] == ["and this", "remember this"]
        listing.focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert [v.message.content for v in second.screen.query(MessageView)] == [
            "remember this",
            "Echo: remember this",
        ]


async def test_quit_while_streaming_saves_what_arrived(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(deltas=["chunk "] * 500, delay=0.02)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "long answer please")
        await wait_for(pilot, lambda: fake.chunks_sent >= 5, "five chunks")
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    saved = saved_files(data_dir)[0]["messages"]
    assert saved[-1]["status"] == "stopped"
    assert saved[-1]["content"].startswith("chunk chunk")


async def test_slash_quit_and_exit_quit(fake: FakeOpenAI, make_app) -> None:
    for command in ("/quit", "/exit"):
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, command)
            await pilot.pause()
            assert app.return_code == 0, "the app did not start quitting"
        assert fake.chat_requests == []


async def test_without_key_or_server_the_app_explains_setup(make_app) -> None:
    app = make_app(load_settings(environ={}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = str(app.query_one(".empty-log").render())
        assert "OPENAI_API_KEY" in text and "--base-url" in text
        await send(pilot, "hello?")
        await pilot.pause()
        assert "No server configured" in str(app.query_one(StatusBar).render())
        assert isinstance(app.screen, SetupDialog)
        await pilot.press("escape")
        assert app.query_one(PromptInput).text == "hello?"


async def test_log_follows_new_text_only_at_the_bottom(fake: FakeOpenAI, make_app) -> None:
    fake.add(deltas=["line\n\n"] * 200, delay=0.01)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "many lines")
        log = app.query_one(MessageLog)
        await wait_for(pilot, lambda: fake.chunks_sent >= 60, "sixty chunks")
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y > 0, "the log to follow")
        log.scroll_to(y=0, animate=False)
        await pilot.pause()
        await settle(pilot)
        assert log.scroll_y < log.max_scroll_y
        assert log.scroll_y <= 2


async def test_switching_away_while_streaming_keeps_the_reply_going(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "older")
        await settle(pilot)
        fake.add(deltas=["live "] * 60, delay=0.02)
        await pilot.press("ctrl+n")
        await send(pilot, "streaming one")
        await wait_for(pilot, lambda: fake.chunks_sent >= 8, "eight chunks")
        listing = app.query_one(ConversationList)
        listing.focus()
        await pilot.press("down", "enter")  # open "older" while the reply streams
        await pilot.pause()
        assert screen_of(app).conversation.title == "older"
        listing.focus()  # opening a conversation puts the focus back in the input
        await pilot.press("up", "enter")  # and back
        await settle(pilot)
        view = app.screen.query(MessageView)[-1]
        assert view.message.status == "complete"
        assert view.message.content == "live " * 60
        markdown = view.query_one(Markdown)
        assert markdown.source.strip() == ("live " * 60).strip()


async def test_reply_markup_and_escapes_are_shown_literally(fake: FakeOpenAI, make_app) -> None:
    hostile = "[bold]x[/] [@click=app.quit]quit[/] [/INST] \x1b[31mred\x1b]52;c;aGk=\x07"
    fake.add(Reply(deltas=[hostile]))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "[link=file:///etc/passwd]me[/link]")
        await settle(pilot)
        assert app.is_running
        text = visible_text(app)
        assert "[link=file:///etc/passwd]me[/link]" in text
        assert "[bold]x[/]" in text and "[/INST]" in text
        assert "\x1b" not in text and "␛[31mred" in text


async def test_retry_after_a_failure_keeps_the_failed_reply_as_an_alternative(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(status=503, error_message="overloaded")
    fake.add(deltas=["second ", "try"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.status == "failed"
        await pilot.press("ctrl+r")
        await settle(pilot)
        views = app.screen.query(MessageView)
        assert [v.message.content for v in views] == ["question", "second try"]
        assert "‹ 2/2 ›" in str(views[-1].query_one(".message-header").render())
        # The retried request carries the conversation without the failed reply.
        assert fake.chat_requests[-1].messages == [{"role": "user", "content": "question"}]
        # Step back to the failed version by clicking the left arrow.
        await views[-1].query_one(".message-header").run_action("step(-1)")
        await settle(pilot)
        last = app.screen.query(MessageView)[-1].message
        assert (last.status, last.variant) == ("failed", 0)
    saved = saved_files(data_dir)[0]["messages"]
    assert saved[-1]["status"] == "failed"
    assert [m["content"] for m in saved[-1]["alternatives"][0]] == ["second try"]


async def test_setup_in_the_app_saves_a_private_config_and_works(
    fake: FakeOpenAI, make_app, isolated_dirs: Path
) -> None:
    app = make_app(load_settings(environ={}))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello?")
        await pilot.pause()
        assert isinstance(app.screen, SetupDialog)
        app.screen.query_one("#base-url").value = fake.base_url
        app.screen.query_one("#api-key").value = "sk-local-secret"
        app.screen.query_one("#default-model").value = "local-llama"
        await pilot.click("#save")
        await settle(pilot)
        await pilot.press("enter")  # the prompt is still there: send it now
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.content == "Echo: hello?"
        assert "sk-local-secret" not in app.export_screenshot()
    config = isolated_dirs / "config" / "chat-tui" / "config.toml"
    assert (config.stat().st_mode & 0o777) == 0o600
    saved = load_settings(environ={}, config_path=config)
    assert saved.active_provider.base_url == fake.base_url
    assert saved.active_provider.api_key == "sk-local-secret"
    assert saved.model == "local-llama"
    assert fake.chat_requests[0].headers["authorization"] == "Bearer sk-local-secret"
    assert fake.chat_requests[0].body["model"] == "local-llama"


async def test_setup_refuses_an_address_the_client_could_not_use(
    fake: FakeOpenAI, make_app, isolated_dirs: Path
) -> None:
    app = make_app(load_settings(environ={}))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello?")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SetupDialog)
        for address, problem in [
            ("http://me:hunter2@localhost:8080/v1", "has a user name or password"),
            ("http://localhost:99999/v1", "port 99999, which is outside 1-65535"),
            ("http://[::1/v1", "without its closing ]"),
        ]:
            field = dialog.query_one("#base-url", Input)
            field.value = address
            field.focus()
            await pilot.press("enter")
            await pilot.pause()
            shown = str(dialog.query_one("#setup-error").render())
            assert problem in shown and "hunter2" not in shown
            assert app.screen is dialog
        dialog.query_one("#base-url", Input).value = fake.base_url + "/"
        await pilot.click("#save")
        await settle(pilot)
        assert not isinstance(app.screen, SetupDialog)
    config = isolated_dirs / "config" / "chat-tui" / "config.toml"
    assert load_settings(environ={}, config_path=config).active_provider.base_url == fake.base_url


async def test_a_prompt_typed_just_before_quitting_is_kept(fake: FakeOpenAI, make_app) -> None:
    """Drafts are written once a second; a quit inside that second writes the last one."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"typed then quit")
        await pilot.press("ctrl+q")
    assert app.drafts.load(NEW_CONVERSATION) == "typed then quit"


async def test_a_typed_prompt_survives_a_restart_and_follows_its_conversation(
    fake: FakeOpenAI, make_app
) -> None:
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await send(pilot, "saved topic")
        await settle(pilot)
        await pilot.press(*"half-written follow-up")
        conversation_id = screen_of(first).conversation.id
        await wait_for(  # drafts are written once a second
            pilot, lambda: first.drafts.load(conversation_id) == "half-written follow-up"
        )
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert first.query_one(PromptInput).text == ""
        await pilot.press(*"idea for a new chat")
        await wait_for(pilot, lambda: first.drafts.load(NEW_CONVERSATION) == "idea for a new chat")
        await settle(pilot)
    # A crash would skip any quitting logic: a new app on the same data finds both drafts.
    second = make_app()
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert second.query_one(PromptInput).text == "idea for a new chat"
        listing = second.query_one(ConversationList)
        listing.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert second.query_one(PromptInput).text == "half-written follow-up"
        await pilot.press("enter")  # sending clears the draft
        await settle(pilot)
    third = make_app()
    async with third.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = third.query_one(ConversationList)
        listing.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert third.query_one(PromptInput).text == ""


async def test_thinking_text_is_kept_apart_and_folded(fake: FakeOpenAI, make_app, data_dir) -> None:
    fake.add(reasoning=["Let me ", "think."], deltas=["The answer ", "is 4."])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "2+2?")
        await settle(pilot)
        view = app.screen.query(MessageView)[-1]
        assert view.message.content == "The answer is 4."
        assert view.message.reasoning == "Let me think."
        folded = view.query_one(".reasoning")
        assert folded.display and folded.collapsed
        await send(pilot, "and 3+3?")
        await settle(pilot)
    saved = saved_files(data_dir)[0]["messages"][1]
    assert (saved["content"], saved["reasoning"]) == ("The answer is 4.", "Let me think.")
    # Only the answer goes back to the model.
    assert fake.chat_requests[-1].messages[1] == {
        "role": "assistant",
        "content": "The answer is 4.",
    }
