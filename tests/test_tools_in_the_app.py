"""A conversation with tool turns (made by `ask`) in the full-screen app, which offers no tools
itself yet: it is shown harmlessly, and regenerate and edit & resend keep working."""

from __future__ import annotations

from pathlib import Path

from chat_tui.models import Conversation, Message, ToolCall
from chat_tui.store import ConversationStore
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from tests.fake_openai import FakeOpenAI
from tests.mcp_server import HOSTILE
from tests.test_app import SIZE, saved_files, settle, visible_text


def with_tool_turns(store: ConversationStore) -> Conversation:
    conversation = Conversation(id="20261125-120000-tools1", model="gpt-4o-mini")
    conversation.add_user_message("What does the tool say?")
    asking = conversation.add_reply("gpt-4o-mini")
    asking.status = "complete"
    asking.tool_calls = [
        ToolCall("call_1", "hostile", "{}", "calc", "hostile", "done", HOSTILE, None, 0.1)
    ]
    conversation.messages.append(Message(role="tool", content=HOSTILE, tool_call_id="call_1"))
    answer = conversation.add_reply("gpt-4o-mini")
    answer.status, answer.content = "complete", "It says hello."
    store.save(conversation)
    return conversation


async def test_regenerate_sends_the_tool_turns_and_no_tools(
    fake: FakeOpenAI, make_app, store: ConversationStore, data_dir: Path
) -> None:
    conversation = with_tool_turns(store)
    fake.add(deltas=["Again: hello."])
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = visible_text(app)
        assert "\x1b" not in shown and "\x07" not in shown
        assert "[bold red]not markup[/]" in shown  # shown as the text it is
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.content == "Again: hello."
    request = fake.chat_requests[-1].body
    assert "tools" not in request
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "tool"]
    assert request["messages"][1]["tool_calls"][0]["id"] == "call_1"
    assert request["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": HOSTILE}
    [saved] = saved_files(data_dir)
    assert saved["schema_version"] == 3
    assert saved["messages"][3]["content"] == "Again: hello."
    assert saved["messages"][3]["alternatives"][0][0]["content"] == "It says hello."
    assert saved["messages"][1]["tool_calls"][0]["result"] == HOSTILE


async def test_edit_and_resend_keeps_the_tool_turns_as_the_earlier_version(
    fake: FakeOpenAI, make_app, store: ConversationStore, data_dir: Path
) -> None:
    conversation = with_tool_turns(store)
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+up")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "What does the tool say?"
        prompt.load_text("Never mind the tool")
        await pilot.press("enter")
        await settle(pilot)
    assert fake.chat_requests[-1].messages == [{"role": "user", "content": "Never mind the tool"}]
    [saved] = saved_files(data_dir)
    earlier = saved["messages"][0]["alternatives"][0]
    assert [m["role"] for m in earlier] == ["user", "assistant", "tool", "assistant"]
    assert earlier[1]["tool_calls"][0]["status"] == "done"
