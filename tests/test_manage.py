"""Managing conversations: search, rename, delete/undo/restore, versions, model, editing."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, OptionList, TextArea

from chat_tui.store import ConversationStore
from chat_tui.tui.screens.modals import ConfirmDialog, RenameDialog, TrashDialog
from chat_tui.tui.screens.model_picker import ModelPicker
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.sidebar import Sidebar
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, saved_files, screen_of, send, settle, titles, wait_for_screen
from tests.support.sample_data import seed_sample_conversations


async def test_search_filters_by_message_text_and_escape_clears(make_app, data_dir: Path) -> None:
    store = ConversationStore(data_dir)
    seed_sample_conversations(store)
    store.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        everything = titles(app)
        assert len(everything) == 6
        await pilot.press("ctrl+f")
        await pilot.press(*"jitter")  # only in the text of one reply, not in any title
        await settle(pilot)
        listing = app.query_one(ConversationList)
        assert [(r.title, "jitter" in r.snippet) for r in listing.rows] == [
            ("Retry a flaky network call in Python", True)
        ]
        await pilot.press("escape")
        await settle(pilot)
        assert titles(app) == everything
        assert app.query_one("#search", Input).value == ""


async def test_rename_with_f2_and_titles_stay_plain_text(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "original title")
        await settle(pilot)
        await pilot.press("f2")
        await wait_for_screen(pilot, RenameDialog)
        box = app.screen.query_one(Input)
        assert box.value == "original title"
        box.value = "[bold]Renamed[/] [@click=app.quit]x[/]"
        await pilot.press("enter")
        await settle(pilot)
        assert app.is_running
        assert titles(app) == ["[bold]Renamed[/] [@click=app.quit]x[/]"]
        assert "[bold]Renamed[/]" in str(app.query_one("#conversation-title").render())
        # Esc cancels without changes.
        await pilot.press("f2")
        await wait_for_screen(pilot, RenameDialog)
        app.screen.query_one(Input).value = "not this"
        await pilot.press("escape")
        await settle(pilot)
    assert saved_files(data_dir)[0]["title"] == "[bold]Renamed[/] [@click=app.quit]x[/]"


async def test_delete_asks_then_undo_brings_it_back(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "keep")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await send(pilot, "doomed")
        await settle(pilot)
        listing = app.query_one(ConversationList)
        listing.focus()
        listing.highlighted = 0
        await pilot.press("delete")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("escape")  # cancel first: nothing happens
        await settle(pilot)
        assert titles(app) == ["doomed", "keep"]
        await pilot.press("delete")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert titles(app) == ["keep"]
        assert [json.loads(p.read_text())["title"] for p in (data_dir / "trash").iterdir()] == [
            "doomed"
        ]
        assert screen_of(app).conversation.messages == []  # the open one was deleted
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert titles(app) == ["doomed", "keep"]
        assert screen_of(app).conversation.title == "doomed"
        assert not list((data_dir / "trash").iterdir())


async def test_restore_from_trash_through_the_palette(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "old thoughts")
        await settle(pilot)
        await app.run_action("screen.delete_conversation")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert titles(app) == []
        await pilot.press("ctrl+p")
        await pilot.press(*"restore from trash", "enter")
        await wait_for_screen(pilot, TrashDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert titles(app) == ["old thoughts"]
        assert [v.message.content for v in app.screen.query(MessageView)] == [
            "old thoughts",
            "Echo: old thoughts",
        ]


async def test_regenerated_replies_survive_a_restart_and_can_be_stepped(
    fake: FakeOpenAI, make_app
) -> None:
    fake.add(deltas=["first answer"])
    fake.add(deltas=["second answer"])
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
    second = make_app()
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = second.query_one(ConversationList)
        listing.focus()
        await pilot.press("enter")
        await settle(pilot)
        last = second.screen.query(MessageView)[-1]
        assert last.message.content == "second answer"
        header = last.query_one(".message-header")
        assert "‹ 2/2 ›" in str(header.render())
        await header.run_action("step(-1)")
        await settle(pilot)
        last = second.screen.query(MessageView)[-1]
        assert last.message.content == "first answer"
        assert "‹ 1/2 ›" in str(last.query_one(".message-header").render())
        await pilot.press("alt+right")  # the keyboard steps too
        await settle(pilot)
        assert second.screen.query(MessageView)[-1].message.content == "second answer"


async def test_switching_model_mid_chat_changes_the_next_request(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.models = ["gpt-4o-mini", "gpt-4o", "local-llama"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        await pilot.press("ctrl+o")
        await wait_for_screen(pilot, ModelPicker)
        await settle(pilot)
        options = app.screen.query_one("#models", OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == [
            "gpt-4o",
            "gpt-4o-mini",
            "local-llama",
        ]
        app.screen.query_one("#model-name", Input).value = "local"
        await pilot.pause()
        assert options.option_count == 1
        await pilot.press("enter")
        await settle(pilot)
        assert "local-llama" in str(app.query_one("#conversation-model").render())
        await send(pilot, "again")
        await settle(pilot)
        views = app.screen.query(MessageView)
        assert [v.message.model for v in views if v.message.role == "assistant"] == [
            "gpt-4o-mini",
            "local-llama",
        ]
        assert "local-llama" in str(views[-1].query_one(".message-header").render())
    assert [r.body["model"] for r in fake.chat_requests] == ["gpt-4o-mini", "local-llama"]
    saved = saved_files(data_dir)[0]
    assert saved["model"] == "local-llama"
    assert [m.get("model") for m in saved["messages"]] == [None, "gpt-4o-mini", None, "local-llama"]


async def test_free_model_entry_and_a_system_prompt_per_conversation(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.models = []
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await wait_for_screen(pilot, ModelPicker)
        await settle(pilot)
        assert "lists no models" in str(app.screen.query_one("#models-status").render())
        app.screen.query_one("#model-name", Input).value = "my-own-model"
        app.screen.query_one("#system", TextArea).load_text("Answer in French.")
        await pilot.click("#apply")
        await settle(pilot)
        await send(pilot, "bonjour")
        await settle(pilot)
    request = fake.chat_requests[0]
    assert request.body["model"] == "my-own-model"
    assert request.messages[0] == {"role": "system", "content": "Answer in French."}
    assert saved_files(data_dir)[0]["system_prompt"] == "Answer in French."


async def test_edit_and_resend_keeps_the_previous_exchange(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first version")
        await settle(pilot)
        await pilot.press("ctrl+up")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "first version"
        prompt.load_text("second version")
        await pilot.press("enter")
        await settle(pilot)
        assert [v.message.content for v in app.screen.query(MessageView)] == [
            "second version",
            "Echo: second version",
        ]
        first = app.screen.query(MessageView)[0]
        assert "‹ 2/2 ›" in str(first.query_one(".message-header").render())
    assert fake.chat_requests[-1].messages == [{"role": "user", "content": "second version"}]
    saved = saved_files(data_dir)[0]["messages"]
    assert [m["content"] for m in saved[0]["alternatives"][0]] == [
        "first version",
        "Echo: first version",
    ]


async def test_up_in_an_empty_input_recalls_earlier_prompts(fake: FakeOpenAI, make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        await settle(pilot)
        await send(pilot, "two")
        await settle(pilot)
        prompt = app.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "two"
        await pilot.press("up")
        assert prompt.text == "one"
        await pilot.press("down")
        assert prompt.text == "two"
        await pilot.press("down")
        assert prompt.text == ""


async def test_ctrl_b_hides_and_shows_the_sidebar(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        sidebar = app.query_one(Sidebar)
        assert sidebar.display and sidebar.region.width > 0
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert sidebar.region.width == 0
        assert app.query_one(PromptInput).region.width > 60
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert sidebar.region.width > 0
