"""Tools in the full-screen app, driven by keys through Pilot against the real MCP test server
(over stdio) and the loopback OpenAI server: each call shows in the log as it comes, the
person answers in the approval bar (y once, a always, n or Esc deny), Esc stops a running
tool, servers are switched per conversation in the ctrl+o picker and from the palette; and a
conversation with tool turns is shown harmlessly, regenerated and edited.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Collapsible, SelectionList

from chat_tui.config import Settings, load_settings
from chat_tui.models import Conversation, Message, ToolCall
from chat_tui.paths import config_file
from chat_tui.store import ConversationStore
from chat_tui.tools.loop import DENIED
from chat_tui.tui.app import ChatApp
from chat_tui.tui.widgets.approval_bar import ApprovalBar
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.status_bar import StatusBar
from chat_tui.tui.widgets.tool_call import ToolCallView
from tests.support.loopback import Call, FakeOpenAI
from tests.support.mcp_server import HOSTILE, calls_made, process_ended, server_pids, stdio_table
from tests.support.pilot import (
    SIZE,
    Notes,
    eventually,
    run_palette_command,
    saved_files,
    screen_text,
    send,
    settings_with_private_config,
    settle,
    type_text,
    visible_text,
    wait_for,
)

WAIT = 30.0
"""Seconds a condition may take on a loaded machine (a server starting, a call ending)."""


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
    assert saved["schema_version"] >= 3  # tool calls came with version 3
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


async def test_a_call_left_running_by_a_crash_is_shown_interrupted(
    fake: FakeOpenAI, make_app, store: ConversationStore
) -> None:
    conversation = Conversation(id="20261125-120000-tools2", model="gpt-4o-mini")
    conversation.add_user_message("Wait for it")
    asking = conversation.add_reply("gpt-4o-mini")
    asking.status = "complete"
    asking.tool_calls = [ToolCall("call_1", "slow", '{"seconds": 9}', "calc", "slow", "running")]
    store.save(conversation)
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        [view] = call_views(app)
        assert "⚠ interrupted" in shown(view) and "running" not in shown(view)


# -- tools offered by the app ------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the test MCP server notes its calls and its process id."""
    path = tmp_path / "mcp"
    path.mkdir()
    return path


def with_server(fake: FakeOpenAI, folder: Path, extra: str = "", before: str = "") -> Settings:
    """Settings whose config.toml has the test MCP server as `calc` (and `before` above it)."""
    return settings_with_private_config(
        fake.base_url, before + stdio_table("calc", folder, extra=extra)
    )


def bar_of(app: ChatApp) -> ApprovalBar:
    return app.screen.query_one(ApprovalBar)


async def asked(pilot) -> ApprovalBar:
    """Wait until the approval bar asks and keys answer it."""
    bar = bar_of(pilot.app)
    assert await eventually(pilot, lambda: bar.armed, WAIT), "the question never came"
    return bar


def call_views(app: ChatApp) -> list[ToolCallView]:
    return list(app.screen.query(ToolCallView))


def shown(widget) -> str:
    return "\n".join(str(static.render()) for static in widget.query("Static"))


async def quit_and_check_servers_ended(pilot, folder: Path) -> None:
    """ctrl+q, as a person quits: every server process started has ended."""
    pids = server_pids(folder)
    assert pids, "no server was started"
    await pilot.press("ctrl+q")
    deadline = time.monotonic() + WAIT
    while not all(process_ended(pid) for pid in pids):
        assert time.monotonic() < deadline, "a tool server outlived the app"
        await asyncio.sleep(0.05)


async def test_a_call_is_shown_asked_about_and_run_once(
    fake: FakeOpenAI, make_app, folder: Path, data_dir: Path
) -> None:
    import threading

    gate = threading.Event()
    fake.add_calls(Call("add", {"a": 2, "b": 3}), text="Let me add.", gate=gate)
    app = make_app(with_server(fake, folder))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "What is 2 + 3?")
        await type_text(pilot, "my next question")  # a draft, typed while the reply waits
        gate.set()
        bar = await asked(pilot)
        prompt = app.query_one(PromptInput)
        assert app.focused is bar and prompt.text == "my next question"
        assert "asks to run calc · add." in shown(bar) and '{"a": 2, "b": 3}' in shown(bar)
        [view] = call_views(app)
        assert "calc · add" in shown(view) and "waiting for your answer" in shown(view)
        assert '  "a": 2,\n  "b": 3' in shown(view)  # pretty-printed
        assert calls_made(folder) == []  # nothing runs before the answer
        await pilot.press("y")
        await settle(pilot)
        assert calls_made(folder) == ["add 2 3"]
        assert not bar.display and app.focused is prompt
        assert prompt.text == "my next question"
        header = shown(call_views(app)[0])
        assert "✓ done" in header and " s" in header
        messages = app.screen.conversation.messages
        assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
        assert messages[-1].content == "Result: 5"
        views = app.screen.query(MessageView)
        assert [v.message.role for v in views] == ["user", "assistant", "assistant"]
        assert views[-1].message.content == "Result: 5"
        await quit_and_check_servers_ended(pilot, folder)
    [saved] = saved_files(data_dir)
    [call] = saved["messages"][1]["tool_calls"]
    assert (call["server"], call["tool"], call["status"], call["result"]) == (
        "calc",
        "add",
        "done",
        "5",
    )
    assert call["duration_seconds"] >= 0
    assert fake.tool_messages[1] == [{"role": "tool", "tool_call_id": "call_1", "content": "5"}]
    offered = {tool["function"]["name"] for tool in fake.chat_requests[0].body["tools"]}
    assert {"add", "echo", "slow"} <= offered


async def test_always_is_saved_to_the_config_and_the_next_call_is_not_asked(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    settings = with_server(fake, folder, before='# mine\ntheme = "textual-dark"\n\n')
    before = config_file().read_text()
    fake.add_calls(Call("add", {"a": 1, "b": 1}))
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        await asked(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert config_file().read_text() == before.replace(
            "[mcp_servers.calc]\n", '[mcp_servers.calc]\nauto_approve = ["add"]\n'
        )
        fake.add_calls(Call("add", {"a": 2, "b": 2}))
        await send(pilot, "two")
        await settle(pilot)
        assert calls_made(folder) == ["add 1 1", "add 2 2"]
        assert app.screen.conversation.messages[-1].content == "Result: 4"
        assert not bar_of(app).display  # never asked
    assert load_settings(environ={}).mcp_servers["calc"].auto_approve == ("add",)


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_a_denied_call_is_not_run_and_the_model_is_told(
    fake: FakeOpenAI, make_app, folder: Path, data_dir: Path, key: str
) -> None:
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    app = make_app(with_server(fake, folder))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "What is 2 + 3?")
        await asked(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert "⊘ denied" in shown(call_views(app)[0])
        assert app.screen.conversation.messages[-1].status == "complete"  # the reply went on
    assert calls_made(folder) == []
    assert fake.tool_messages[1][0]["content"] == DENIED
    [saved] = saved_files(data_dir)
    assert saved["messages"][1]["tool_calls"][0]["status"] == "denied"
    assert saved["messages"][-1]["content"] == f"Result: {DENIED}"


async def test_a_key_typed_before_the_question_appeared_does_not_answer_it(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    app = make_app(with_server(fake, folder))
    async with app.run_test(size=SIZE) as pilot:
        # Read from the terminal before the question was on screen, handled after it was.
        typed_ahead = [events.Key("y", "y"), events.Key("a", "a")]
        await send(pilot, "What is 2 + 3?")
        bar = await asked(pilot)
        for key in typed_ahead:
            app.post_message(key)
        await pilot.pause()
        assert await eventually(pilot, lambda: app.query_one(PromptInput).text == "ya")
        assert bar.asking and calls_made(folder) == []  # not an answer: part of the draft
        await pilot.press("n")
        await settle(pilot)
        assert calls_made(folder) == []
        assert app.query_one(PromptInput).text == "ya"
        assert app.screen.conversation.messages[1].tool_calls[0].status == "denied"


async def test_the_question_follows_its_conversation(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    app = make_app(with_server(fake, folder))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "What is 2 + 3?")
        bar = await asked(pilot)
        asking = app.screen.conversation.id
        await pilot.press("ctrl+n")  # the other keys work while the bar asks
        await pilot.pause()
        assert app.screen.conversation.id != asking
        assert not bar.display and not bar.asking
        # The sidebar says which conversation waits for an answer.
        listing = app.query_one(ConversationList)
        await wait_for(pilot, lambda: "? What is 2 + 3?" in screen_text(app), "the mark")
        assert listing.waiting_ids == {asking}
        assert app.focused is app.query_one(PromptInput)
        await pilot.press("y")  # typed into the new conversation's box, not an answer
        assert app.query_one(PromptInput).text == "y" and calls_made(folder) == []
        await app.screen.open_conversation(asking)
        await asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert calls_made(folder) == ["add 2 3"]
        assert app.screen.conversation.messages[-1].content == "Result: 5"
        assert listing.waiting_ids == set() and "? What is" not in screen_text(app)


async def test_quitting_while_asked_stops_the_call_and_the_servers(
    fake: FakeOpenAI, make_app, folder: Path, data_dir: Path
) -> None:
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    app = make_app(with_server(fake, folder))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "What is 2 + 3?")
        await asked(pilot)
        await quit_and_check_servers_ended(pilot, folder)
    assert calls_made(folder) == [] and fake.open_streams == 0
    [saved] = saved_files(data_dir)
    assert saved["messages"][1]["tool_calls"][0]["status"] == "stopped"
    assert saved["messages"][-1]["role"] == "tool"


async def test_escape_while_a_tool_runs_cancels_it_and_leaves_nothing_open(
    fake: FakeOpenAI, make_app, folder: Path, data_dir: Path
) -> None:
    fake.add_calls(Call("slow", {"seconds": 120}))
    app = make_app(with_server(fake, folder, extra='auto_approve = ["slow"]\n'))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Wait for it")
        assert await eventually(pilot, lambda: (folder / "started").exists(), WAIT)
        status = app.query_one(StatusBar)
        assert await eventually(pilot, lambda: "Running calc · slow…" in str(status.render()))
        assert str(status.render()).endswith("(Esc to stop)")
        await pilot.press("escape")
        assert await eventually(pilot, lambda: (folder / "cancelled").exists(), WAIT)
        await settle(pilot)
        assert not app.screen.streaming
        assert "■ stopped" in shown(call_views(app)[0])
        assert fake.open_streams == 0 and len(fake.chat_requests) == 1  # no next turn
        await quit_and_check_servers_ended(pilot, folder)
    [saved] = saved_files(data_dir)
    call = saved["messages"][1]["tool_calls"][0]
    assert call["status"] == "stopped" and call["duration_seconds"] > 0
    assert saved["messages"][-1]["role"] == "tool"  # the history stays sendable


async def test_a_crashed_server_is_reported_once_and_the_other_keeps_working(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    approve = 'auto_approve = ["crash", "add"]\n'
    settings = settings_with_private_config(
        fake.base_url,
        stdio_table("a", folder, extra=approve) + stdio_table("b", folder, extra=approve),
    )
    fake.add_calls(Call("a_crash"), Call("b_add", {"a": 1, "b": 1}))
    app, notes = make_app(settings), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "crash it")
        await settle(pilot)
        crash, add = call_views(app)
        assert "✗ failed" in shown(crash) and "crashing on purpose" in shown(crash)
        assert "✓ done" in shown(add)
        fake.add_calls(Call("add", {"a": 2, "b": 2}))  # a's tools are no longer offered
        await send(pilot, "again")
        await settle(pilot)
        assert app.screen.conversation.messages[-1].content == "Result: 4"
    [report] = [text for text in notes.texts if text.startswith("Tools")]
    assert "a stopped" in report and "crashing on purpose" in report
    assert calls_made(folder) == ["crash", "add 1 1", "add 2 2"]
    offered = {tool["function"]["name"] for tool in fake.chat_requests[-2].body["tools"]}
    assert "add" in offered and not any(name.startswith("a_") for name in offered)


async def test_a_server_that_does_not_start_is_reported_and_the_reply_goes_on(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    settings = settings_with_private_config(
        fake.base_url, stdio_table("broken", folder, args=("broken",))
    )
    app, notes = make_app(settings), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        await send(pilot, "hello again")
        await settle(pilot)
        assert app.screen.conversation.messages[-1].content == "Echo: hello again"
    [report] = [text for text in notes.texts if text.startswith("Tools")]
    assert "broken did not start" in report
    assert "broken server: missing setting FOO" in report  # the end of its stderr


async def test_a_model_that_refuses_tools_gets_none_with_one_note(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    fake.add(status=400, error_message="tools param requires --jinja flag", error_type="x")
    app, notes = make_app(with_server(fake, folder)), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        await send(pilot, "more")
        await settle(pilot)
        assert app.screen.conversation.messages[-1].content == "Echo: more"
    assert len([text for text in notes.texts if "does not accept tools" in text]) == 1
    assert "tools" not in fake.chat_requests[-1].body


async def test_the_round_limit_stops_a_model_that_keeps_calling(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    settings = with_server(
        fake, folder, before="max_tool_rounds = 1\n", extra='auto_approve = ["add"]\n'
    )
    fake.add_calls(Call("add", {"a": 1, "b": 1}))
    fake.add_calls(Call("add", {"a": 2, "b": 2}))
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "loop")
        await settle(pilot)
        assert calls_made(folder) == ["add 1 1"]
        first, second = call_views(app)
        assert "✓ done" in shown(first) and "– not run" in shown(second)
        last = app.screen.query(MessageView)[-1]
        assert "Stopped after 1 rounds of tool calls" in shown(last)
        assert "Stopped after 1" in str(app.query_one(StatusBar).render())
    assert len(fake.chat_requests) == 2


async def test_hostile_tool_output_and_arguments_are_shown_as_text(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    fake.add_calls(Call("hostile"), Call("echo", {"text": HOSTILE}))
    app = make_app(with_server(fake, folder, extra='auto_approve = ["hostile", "echo"]\n'))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "be nasty")
        await settle(pilot)
        result, echoed = call_views(app)
        result.query_one(Collapsible).collapsed = False  # expanded to read
        await settle(pilot)
        for view in (result, echoed):
            text = shown(view)
            assert "[bold red]not markup[/]" in text
            assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
            assert "␛" in text
        assert "Result · " in shown(result)
        assert "not markup" in str(result.query_one(".call-result-text").render())
        screen = app.export_screenshot()
    assert "\x1b]52" not in screen and "\x1b]8;;https://evil" not in screen


async def test_a_long_result_is_cut_on_screen_and_kept_whole(
    fake: FakeOpenAI, make_app, folder: Path, data_dir: Path
) -> None:
    fake.add_calls(Call("huge", {"size": 50_000}))
    app = make_app(with_server(fake, folder, extra='auto_approve = ["huge"]\n'))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "big")
        await settle(pilot)
        [view] = call_views(app)
        assert view.query_one(Collapsible).collapsed  # folded under the call
        assert "Result · 50,000 characters" in shown(view)
        text = str(view.query_one(".call-result-text").render())
        assert "… 30,000 more characters (all of it was kept)" in text
    [saved] = saved_files(data_dir)
    assert len(saved["messages"][1]["tool_calls"][0]["result"]) == 50_000


async def test_the_picker_turns_a_server_off_for_the_conversation_and_it_stays_off(
    fake: FakeOpenAI, make_app, folder: Path, data_dir: Path
) -> None:
    settings = with_server(fake, folder)
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await settle(pilot)
        assert "tools" in fake.chat_requests[-1].body
        await pilot.press("ctrl+o")
        await settle(pilot)
        servers = app.screen.query_one("#tool-servers", SelectionList)
        assert servers.selected == ["calc"]
        servers.deselect("calc")
        app.screen.query_one("#apply").press()
        await settle(pilot)
        await send(pilot, "second")
        await settle(pilot)
        assert "tools" not in fake.chat_requests[-1].body
    [saved] = saved_files(data_dir)
    assert saved["tool_servers"] == {"calc": False}
    app = make_app(settings, open_conversation=saved["id"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await send(pilot, "third")
        await settle(pilot)
        assert "tools" not in fake.chat_requests[-1].body
        await pilot.press("ctrl+o")
        await settle(pilot)
        servers = app.screen.query_one("#tool-servers", SelectionList)
        assert servers.selected == []
        servers.select("calc")
        app.screen.query_one("#apply").press()
        await settle(pilot)
        await send(pilot, "fourth")
        await settle(pilot)
        assert "tools" in fake.chat_requests[-1].body
    assert saved_files(data_dir)[0].get("tool_servers") is None  # back to the config


async def test_the_palette_lists_servers_and_tools_and_restarts_a_server(
    fake: FakeOpenAI, make_app, folder: Path
) -> None:
    settings = settings_with_private_config(
        fake.base_url,
        stdio_table("calc", folder)
        + stdio_table("broken", folder, args=("broken",), extra="enabled = false\n"),
    )
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await run_palette_command(pilot, "tools: list")
        listing = app.screen.query_one("#tools-list")
        assert await eventually(pilot, lambda: "add" in str(listing.render()), WAIT)
        text = str(listing.render())
        assert "calc" in text and "running" in text and "echo" in text
        assert "broken" in text and "off for this conversation" in text
        await pilot.press("escape")
        await settle(pilot)
        [first] = server_pids(folder)
        await run_palette_command(pilot, "tools: restart")
        await settle(pilot)
        await pilot.press("enter")  # the first server: calc
        await settle(pilot)
        assert await eventually(pilot, lambda: len(server_pids(folder)) == 2, WAIT)
        assert await eventually(pilot, lambda: process_ended(first), WAIT)
        await run_palette_command(pilot, "tools: switch servers")
        await settle(pilot)
        assert app.focused is app.screen.query_one("#tool-servers", SelectionList)
