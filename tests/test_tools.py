"""Tools, in the core: configuration, naming, consent, saved tool turns, streamed calls, and the
reply loop against real MCP servers (the SDK's own server side, over stdio and over
Streamable HTTP) and the loopback OpenAI server.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chat_tui import paths
from chat_tui.client import ChatClient, Finished, Notice, TextDelta, ToolCallDelta
from chat_tui.config import ConfigError, Settings, load_settings
from chat_tui.exporting import conversation_to_json, conversation_to_markdown
from chat_tui.models import Conversation, Message, ToolCall
from chat_tui.replying import fill_reply
from chat_tui.tools.approvals import Approvals, Decision, add_auto_approve
from chat_tui.tools.catalogue import Catalogue, ServerTool, unique_names
from chat_tui.tools.loop import (
    DENIED,
    RESULT_SENT,
    STOPPED_RUNNING,
    ReplyHooks,
    reply_with_tools,
)
from chat_tui.tools.servers import read_servers, servers_on, switches_for
from chat_tui.tools.toolbox import Toolbox
from tests.support.loopback import Call, FakeOpenAI
from tests.support.mcp_server import HOSTILE, calls_made, serve_http, stdio_table

WAIT = 30.0
"""Seconds a condition may take on a loaded machine."""


# -- configuration ---------------------------------------------------------------------------


def write_config(text: str) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def settings_with(fake: FakeOpenAI, config: str) -> Settings:
    write_config(config)
    return load_settings(
        environ={}, cli={"base_url": fake.base_url, "timeout": 10, "max_retries": 0}
    )


def test_servers_are_read_with_their_settings() -> None:
    write_config(
        'max_tool_rounds = 3\ntool_timeout = 2.5\n\n[mcp_servers.files]\ncommand = "npx"\n'
        'args = ["-y", "server-files", "/tmp"]\nenv = { TOKEN = "secret" }\ncwd = "/tmp"\n'
        'auto_approve = ["read_file"]\n\n[mcp_servers.web]\nurl = "https://user:pw@mcp.example/mcp?key=1"\n'
        'headers = { Authorization = "Bearer x" }\nenabled = false\n'
    )
    settings = load_settings(environ={})
    files, web = settings.mcp_servers["files"], settings.mcp_servers["web"]
    assert list(settings.mcp_servers) == ["files", "web"]
    assert (settings.max_tool_rounds, settings.tool_timeout) == (3, 2.5)
    assert (files.transport, files.args, files.auto_approve) == (
        "stdio",
        ("-y", "server-files", "/tmp"),
        ("read_file",),
    )
    assert dict(files.env) == {"TOKEN": "secret"} and files.cwd == "/tmp" and files.enabled
    assert (web.transport, web.enabled, dict(web.headers)) == (
        "http",
        False,
        {"Authorization": "Bearer x"},
    )
    # Listings never show what may hold a token: environment, headers, credentials, query.
    assert web.describe() == "https://mcp.example/mcp"
    assert "secret" not in repr(files) and "Bearer" not in repr(web)


def test_defaults_without_servers() -> None:
    settings = load_settings(environ={})
    assert (settings.mcp_servers, settings.max_tool_rounds, settings.tool_timeout) == ({}, 8, 60)


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        (
            "[mcp_servers.a]\nargs = []\n",
            "[mcp_servers.a]",
            "needs command (a local server) or url",
        ),
        ('[mcp_servers.a]\ncommand = "x"\nurl = "http://h"\n', "[mcp_servers.a]", "has both"),
        ('[mcp_servers.a]\ncommand = "x"\nargs = "-v"\n', "mcp_servers.a.args", "a list of text"),
        ('[mcp_servers.a]\ncommand = "x"\ncmd = "y"\n', "[mcp_servers.a]", "setting 'cmd'"),
        ('[mcp_servers."a b"]\ncommand = "x"\n', "[mcp_servers.a b]", "a server name may only"),
        ('[mcp_servers.a]\nurl = "ftp://h"\n', "mcp_servers.a.url", "must start with http"),
        ('[mcp_servers.a]\ncommand = "x"\nenabled = "yes"\n', "mcp_servers.a.enabled", "true or"),
        (
            '[mcp_servers.a]\nurl = "http://h"\nenv = {}\n',
            "mcp_servers.a.env",
            "started by command",
        ),
        (
            '[mcp_servers.a]\ncommand = "x"\nauto_approve = [1]\n',
            "mcp_servers.a.auto_approve",
            "list of text",
        ),
        ('[mcp_servers.a]\ncommand = "x"\nenv = { A = 1 }\n', "mcp_servers.a.env", "a table of"),
        ("mcp_servers = 3\n", "mcp_servers", "must be a table of [mcp_servers.NAME] tables"),
        ("max_tool_rounds = 0\n", "max_tool_rounds", "a whole number from 1 to 100 (got 0)"),
        ("tool_timeout = -1\n", "tool_timeout", "a number of seconds from 1 to 3600 (got -1)"),
    ],
)
def test_a_bad_server_entry_is_one_error_naming_the_key(table: str, key: str, problem: str) -> None:
    path = write_config(table)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={})
    message = str(caught.value)
    assert f"{key} in {path}" in message and problem in message
    assert "\n" not in message


# -- the catalogue ---------------------------------------------------------------------------


def test_names_are_valid_for_openai_and_unique_across_servers() -> None:
    long = "x" * 70
    tools = [
        ServerTool("files", "search", "Find files.", {"type": "object"}),
        ServerTool("web", "search", "Search the web.", {"type": "object"}),
        ServerTool("web", "fetch page", "", {"properties": {}}),
        ServerTool("files", long, "", {"type": "object"}),
        ServerTool("web", long, "", {"type": "object"}),
        ServerTool("web", "dotted.name", "", {"type": "object"}),
    ]
    catalogue = Catalogue(tools)
    names = [tool.name for tool in catalogue.tools]
    assert names[:3] == ["files_search", "web_search", "fetch_page"]
    assert names[5] == "dotted_name"
    assert len(set(names)) == len(names)
    assert all(len(name) <= 64 and name.replace("_", "").isalnum() for name in names)
    for tool, name in zip(tools, names, strict=True):
        found = catalogue.find(name)
        assert found is not None and (found.server, found.tool) == (tool.server, tool.name)
    spec = catalogue.specs()[2]["function"]
    assert spec == {"name": "fetch_page", "parameters": {"properties": {}, "type": "object"}}
    assert catalogue.specs()[0]["function"]["description"] == "Find files."
    assert unique_names([("a", "t"), ("a", "t")]) == ["a_t", "a_t_2"]


def test_a_schema_too_deep_or_not_an_object_is_left_out_with_a_note() -> None:
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(50):
        deep = {"type": "object", "properties": {"a": deep}}
    catalogue = Catalogue(
        [
            ServerTool("s", "deep", "", deep),
            ServerTool("s", "array", "", {"type": "array"}),
            ServerTool("s", "fine", "d" * 5_000, {"type": "object"}),
        ]
    )
    assert [tool.name for tool in catalogue.tools] == ["fine"]
    assert len(catalogue.tools[0].description) <= 2_000
    assert len(catalogue.problems) == 2 and "deep" in catalogue.problems[0]


# -- "always": config.toml rewritten, the rest untouched -------------------------------------

CONFIG = """# my settings
model = "gpt-4o"   # the usual

[mcp_servers.files]
command = "npx"  # started on demand
args = [
  "-y",
  "server-files",
]
auto_approve = [
  "list_dir",  # harmless
]

[mcp_servers.files.env]
ROOT = "/home/me"

[mcp_servers.web]
url = "http://127.0.0.1:9/mcp"
"""


def test_always_is_not_written_into_a_config_file_too_large_to_read_back() -> None:
    path = write_config(CONFIG)
    with open(path, "ab") as handle:
        handle.truncate(5 * 1024 * 1024)  # sparse: takes no disk
    with pytest.raises(ConfigError, match=r"more than the 4 MB chat-tui reads$"):
        add_auto_approve(path, "files", "read_file")
    assert path.stat().st_size == 5 * 1024 * 1024


def test_always_adds_the_tool_to_that_servers_list_and_nothing_else() -> None:
    path = write_config(CONFIG)
    add_auto_approve(path, "files", "read_file")
    text = path.read_text()
    # The list is written again on one line; every other byte of the file stays.
    assert text == CONFIG.replace(
        'auto_approve = [\n  "list_dir",  # harmless\n]\n',
        'auto_approve = ["list_dir", "read_file"]\n',
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    add_auto_approve(path, "files", "read_file")  # already there: nothing changes
    assert path.read_text() == text
    add_auto_approve(path, "web", "fetch")  # no list yet: one is added under the header
    lines = path.read_text().splitlines()
    assert lines[lines.index("[mcp_servers.web]") + 1] == 'auto_approve = ["fetch"]'
    settings = load_settings(environ={})
    assert settings.mcp_servers["files"].auto_approve == ("list_dir", "read_file")
    assert settings.mcp_servers["web"].auto_approve == ("fetch",)
    assert dict(settings.mcp_servers["files"].env) == {"ROOT": "/home/me"}


def test_always_does_not_guess_where_the_file_is_unusual() -> None:
    inline = 'mcp_servers = { files = { command = "npx" } }\n'
    path = write_config(inline)
    with pytest.raises(ConfigError, match="add 'read_file' to its auto_approve by hand"):
        add_auto_approve(path, "files", "read_file")
    assert path.read_text() == inline


# -- saved tool turns ------------------------------------------------------------------------


def tool_conversation() -> Conversation:
    conversation = Conversation(id="20261125-120000-aaaaaa", model="m", title="Sum")
    conversation.add_user_message("What is 2 + 3?")
    ask = conversation.add_reply("m")
    ask.status, ask.content = "complete", "Let me add."
    ask.tool_calls = [
        ToolCall("call_1", "add", '{"a": 2, "b": 3}', "calc", "add", "done", "5", None, 0.25),
        ToolCall("call_2", "wipe", "{}", "calc", "wipe", "denied", None, "denied by the person"),
        ToolCall("call_3", "add", '{"a": 1', status="pending"),  # never reached a decision
    ]
    conversation.messages.append(Message(role="tool", content="5", tool_call_id="call_1"))
    answer = conversation.add_reply("m")
    answer.status, answer.content = "complete", "It is 5."
    return conversation


def test_tool_turns_survive_the_file_and_are_sent_as_openai_expects() -> None:
    conversation = tool_conversation()
    data = json.loads(conversation_to_json(conversation))
    assert data["schema_version"] >= 3  # tool calls came with version 3
    assert data["messages"][1]["tool_calls"][0] == {
        "id": "call_1",
        "name": "add",
        "arguments": '{"a": 2, "b": 3}',
        "status": "done",
        "server": "calc",
        "tool": "add",
        "result": "5",
        "duration_seconds": 0.25,
    }
    assert Conversation.from_dict(data).to_dict() == conversation.to_dict()
    # The denied call's result message is missing (a crash): it is sent as "not run"; the
    # undecided call is not sent at all.
    assert conversation.api_messages()[1:] == [
        {
            "role": "assistant",
            "content": "Let me add.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "wipe", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "5"},
        {"role": "tool", "tool_call_id": "call_2", "content": "This call was not run."},
        {"role": "assistant", "content": "It is 5."},
    ]


def test_a_version_2_file_is_still_read_and_a_newer_one_only_shown() -> None:
    old = {
        "schema_version": 2,
        "id": "old",
        "messages": [
            {"id": "1", "role": "user", "content": "hi"},
            {"id": "2", "role": "assistant", "content": "hello", "status": "complete"},
        ],
    }
    conversation = Conversation.from_dict(old)
    assert [m.content for m in conversation.messages] == ["hi", "hello"]
    assert conversation.messages[1].tool_calls == []
    newer = dict(tool_conversation().to_dict(), schema_version=4)
    shown = Conversation.from_dict_read_only(newer)
    assert shown.read_only and shown.messages[1].tool_calls[0].result == "5"


def test_a_conversation_keeps_its_server_switches_and_older_files_read() -> None:
    conversation = tool_conversation()
    conversation.tool_servers = {"calc": False, "spare": True}
    data = conversation.to_dict()
    assert data["tool_servers"] == {"calc": False, "spare": True}
    assert Conversation.from_dict(data).tool_servers == {"calc": False, "spare": True}
    assert "tool_servers" not in Conversation(id="plain").to_dict()  # files stay as they were
    assert Conversation.from_dict({"schema_version": 3, "id": "old"}).tool_servers == {}
    odd = {"schema_version": 3, "id": "odd", "tool_servers": {"a": "yes", "b": True, "": False}}
    assert Conversation.from_dict(odd).tool_servers == {"b": True}
    many = {"schema_version": 3, "id": "many", "tool_servers": {f"s{i}": True for i in range(9999)}}
    assert len(Conversation.from_dict(many).tool_servers) == 256
    assert (
        Conversation.from_dict({"schema_version": 3, "id": "x", "tool_servers": [1]}).tool_servers
        == {}
    )


def test_a_conversation_offers_its_switched_servers_and_follows_the_config_for_the_rest() -> None:
    servers = read_servers(
        {
            "calc": {"command": "calc"},
            "web": {"command": "web"},
            "spare": {"command": "spare", "enabled": False},
        }
    )
    assert servers_on(servers, {}) == ["calc", "web"]
    assert servers_on(servers, {"calc": False, "spare": True}) == ["web", "spare"]
    assert switches_for(servers, {"web", "spare"}) == {"calc": False, "spare": True}
    assert switches_for(servers, {"calc", "web"}) == {}  # as configured: nothing to keep


def test_markdown_shows_calls_and_results_readably_and_harmlessly() -> None:
    conversation = tool_conversation()
    first = conversation.messages[1].tool_calls[0]
    first.result = HOSTILE + "\n```\n" + "y" * 10_000
    markdown = conversation_to_markdown(conversation)
    assert "**Tool call:** calc · add · done in 0.25 s" in markdown
    assert '```json\n{\n  "a": 2,\n  "b": 3\n}\n```' in markdown
    assert "> **Denied:** denied by the person" in markdown
    assert "more characters (the JSON export has the whole result)" in markdown
    assert "\x1b" not in markdown and "\x07" not in markdown and "\u202e" not in markdown
    assert "````text\n[bold red]not markup[/]" in markdown  # a fence the result cannot close
    assert markdown.count("## Tool result") == 0  # results sit under their calls
    assert (
        json.loads(conversation_to_json(conversation))["messages"][1]["tool_calls"][0]["result"]
        == first.result
    )


# -- the client: streamed calls, and servers that take no tools ------------------------------

TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
ASK = [{"role": "user", "content": "sum"}]


def client_for(fake: FakeOpenAI) -> ChatClient:
    settings = load_settings(environ={}, cli={"base_url": fake.base_url, "timeout": 10})
    return ChatClient(settings.active_provider, timeout=10, max_retries=0)


async def test_streamed_calls_are_put_together_from_their_pieces(fake: FakeOpenAI) -> None:
    fake.add_calls(
        Call("add", {"a": 2, "b": 3}, pieces=4),
        Call("echo", {"text": "héllo 😀"}, id="call_x", pieces=5),
        text="Let me check.",
        parallel=True,
    )
    client = client_for(fake)
    events = [event async for event in client.stream_reply(ASK, "m", TOOLS)]
    assert fake.chat_requests[0].body["tools"] == TOOLS
    assert events[0] == TextDelta("Let me check.")
    assert events[-1] == Finished("tool_calls")
    pieces = [event for event in events if isinstance(event, ToolCallDelta)]
    assert [piece.index for piece in pieces[:4]] == [0, 1, 0, 1]  # interleaved
    assert pieces[0].name == "add" and pieces[1].id == "call_x"

    fake.add_calls(
        Call("add", {"a": 2, "b": 3}, pieces=4),
        Call("echo", {"text": "héllo 😀"}, id="call_x", pieces=5),
        text="Let me check.",
        parallel=True,
    )
    message = Message(role="assistant", content="", status="streaming")
    from chat_tui.client import Stopwatch

    await fill_reply(message, client.stream_reply(ASK, "m", TOOLS), watch=Stopwatch())
    await client.close()
    assert (message.status, message.content) == ("complete", "Let me check.")
    assert [(c.id, c.name, json.loads(c.arguments)) for c in message.tool_calls] == [
        ("call_1", "add", {"a": 2, "b": 3}),
        ("call_x", "echo", {"text": "héllo 😀"}),
    ]


async def test_a_server_without_tools_gets_the_request_again_without_them(
    fake: FakeOpenAI,
) -> None:
    fake.add(status=400, error_message="tools param requires --jinja flag", error_type="x")
    client = client_for(fake)
    events = [event async for event in client.stream_reply(ASK, "m", TOOLS)]
    notices = [event for event in events if isinstance(event, Notice)]
    assert len(notices) == 1 and "does not accept tools" in notices[0].text
    assert TextDelta("Echo: ") in events
    first, second = fake.chat_requests
    assert "tools" in first.body and "tools" not in second.body
    assert second.body["messages"] == first.body["messages"]
    later = [event async for event in client.stream_reply(ASK, "m", TOOLS)]
    await client.close()
    assert not any(isinstance(event, Notice) for event in later)  # said once
    assert "tools" not in fake.chat_requests[2].body and not client.accepts_tools


async def test_other_bad_requests_are_still_errors(fake: FakeOpenAI) -> None:
    from chat_tui.request_errors import ChatError

    fake.add(status=400, error_message="messages with role 'tool' must follow tool_calls")
    client = client_for(fake)
    with pytest.raises(ChatError):
        [event async for event in client.stream_reply(ASK, "m", TOOLS)]
    await client.close()
    assert len(fake.chat_requests) == 1 and client.accepts_tools


# -- the loop, against real MCP servers ------------------------------------------------------


class Person:
    """An approver that answers from a script and remembers what it was asked."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str | None, str | None, str]] = []

    async def __call__(self, call: ToolCall) -> Decision:
        self.asked.append((call.server, call.tool, call.arguments))
        return self.answers.pop(0) if self.answers else Decision.DENY


class Run:
    """One conversation, its client and its toolbox, as a session would hold them."""

    def __init__(self, fake: FakeOpenAI, settings: Settings, allowed: tuple[str, ...] = ()):
        self.settings = settings
        self.conversation = Conversation(model="gpt-4o-mini")
        self.client = ChatClient(settings.active_provider, timeout=10, max_retries=0)
        approvals = Approvals(
            settings.mcp_servers, allowed=allowed, config_path=settings.config_path
        )
        self.toolbox = Toolbox(settings.mcp_servers, approvals, call_timeout=settings.tool_timeout)
        self.notices: list[str] = []
        self.calls: list[tuple[str, str]] = []

    async def ask(self, text: str, person: Person, *, max_rounds: int = 8) -> Message:
        self.conversation.add_user_message(text)
        hooks = ReplyHooks(
            on_notice=self.notices.append,
            on_call=lambda call: self.calls.append((call.name, call.status)),
        )
        return await reply_with_tools(
            self.conversation,
            self.client,
            model="gpt-4o-mini",
            toolbox=self.toolbox,
            approve=person,
            max_rounds=max_rounds,
            hooks=hooks,
        )

    async def close(self) -> None:
        await self.toolbox.close()
        await self.client.close()


@pytest.fixture
async def run_with(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Any]:
    runs: list[Run] = []

    def start(config: str, allowed: tuple[str, ...] = ()) -> Run:
        run = Run(fake, settings_with(fake, config), allowed)
        runs.append(run)
        return run

    yield start
    for run in runs:
        await run.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the test MCP server notes its calls."""
    path = tmp_path / "mcp"
    path.mkdir()
    return path


def roles(conversation: Conversation) -> list[str]:
    return [message.role for message in conversation.messages]


async def test_an_allowed_call_runs_and_the_model_answers_with_its_result(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 2, "b": 3}), text="Adding.")
    person = Person(Decision.ONCE)
    final = await run.ask("What is 2 + 3?", person)
    assert (final.content, final.status) == ("Result: 5", "complete")
    assert person.asked == [("calc", "add", '{"a": 2, "b": 3}')]
    assert calls_made(folder) == ["add 2 3"]
    assert roles(run.conversation) == ["user", "assistant", "tool", "assistant"]
    [call] = run.conversation.messages[1].tool_calls
    assert (call.server, call.tool, call.status, call.result) == ("calc", "add", "done", "5")
    assert call.duration_seconds is not None and call.duration_seconds >= 0
    offered = [tool["function"]["name"] for tool in fake.chat_requests[0].body["tools"]]
    assert {"add", "echo", "slow", "dotted_name"} <= set(offered)
    assert fake.tool_messages[1] == [{"role": "tool", "tool_call_id": "call_1", "content": "5"}]
    assert run.notices == []


async def test_a_server_over_streamable_http_works_the_same(
    fake: FakeOpenAI, run_with: Any
) -> None:
    with serve_http() as url:
        run = run_with(f'[mcp_servers.remote]\nurl = "{url}"\n')
        fake.add_calls(Call("echo", {"text": "over http"}))
        final = await run.ask("Echo it", Person(Decision.ONCE))
        assert final.content == "Result: over http"
        assert run.conversation.messages[1].tool_calls[0].server == "remote"
        await run.close()


async def test_always_is_saved_to_the_config_and_the_next_call_is_not_asked(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with("# mine\n" + stdio_table("calc", folder) + '\n[keys]\n"app.quit" = "ctrl+q"\n')
    config = paths.config_file()
    before = config.read_text()
    person = Person(Decision.ALWAYS)
    fake.add_calls(Call("add", {"a": 1, "b": 1}))
    await run.ask("one", person)
    fake.add_calls(Call("add", {"a": 2, "b": 2}))
    final = await run.ask("two", person)
    assert final.content == "Result: 4"
    assert len(person.asked) == 1  # the second call ran without asking
    assert calls_made(folder) == ["add 1 1", "add 2 2"]
    after = config.read_text()
    assert after.replace('auto_approve = ["add"]\n', "") == before
    assert load_settings(environ={}).mcp_servers["calc"].auto_approve == ("add",)


async def test_a_denied_call_is_not_run_and_the_model_is_told(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    final = await run.ask("What is 2 + 3?", Person(Decision.DENY))
    assert calls_made(folder) == []
    assert run.conversation.messages[1].tool_calls[0].status == "denied"
    assert fake.tool_messages[1][0]["content"] == DENIED
    assert final.content == f"Result: {DENIED}"


async def test_auto_approved_and_allowed_tools_are_not_asked(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder, extra='auto_approve = ["add"]\n'), ("calc.echo",))
    fake.add_calls(
        Call("add", {"a": 1, "b": 2}), Call("echo", {"text": "hi"}), Call("huge", {"size": 3})
    )
    person = Person()
    await run.ask("go", person)
    assert calls_made(folder) == ["add 1 2", "echo hi"]
    assert [asked[1] for asked in person.asked] == ["huge"]  # asked, and denied


async def test_a_tool_error_is_sent_as_its_result_and_recorded(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder))
    fake.add_calls(Call("fail", {"message": "disk on fire"}))
    final = await run.ask("try", Person(Decision.ONCE))
    call = run.conversation.messages[1].tool_calls[0]
    assert call.status == "error" and "disk on fire" in (call.error or "")
    assert "disk on fire" in fake.tool_messages[1][0]["content"]
    assert "disk on fire" in final.content and final.status == "complete"


async def test_calls_that_cannot_be_made_are_answered_without_asking(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder))
    fake.add_calls(Call("nonexistent", {}), Call("add", '{"a": 1,'), Call("add", "[1, 2]"))
    person = Person(Decision.ONCE)
    await run.ask("try", person)
    assert person.asked == [] and calls_made(folder) == []
    errors = [call.error for call in run.conversation.messages[1].tool_calls]
    assert "there is no tool named 'nonexistent'" in (errors[0] or "")
    assert "not valid JSON" in (errors[1] or "") and "not a JSON object" in (errors[2] or "")
    assert [m["content"][:6] for m in fake.tool_messages[1]] == ["Error:"] * 3
    sent = fake.chat_requests[1].messages[1]["tool_calls"][1]["function"]["arguments"]
    assert sent == "{}"  # arguments cut off mid-JSON would make some servers refuse


async def test_the_round_limit_stops_a_model_that_keeps_calling(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder))
    for n in range(3):
        fake.add_calls(Call("add", {"a": n, "b": n}))
    final = await run.ask("loop", Person(*[Decision.ONCE] * 5), max_rounds=2)
    assert calls_made(folder) == ["add 0 0", "add 1 1"]
    assert len(fake.chat_requests) == 3
    assert final.status == "complete" and "Stopped after 2 rounds of tool calls" in (
        final.error or ""
    )
    assert final.tool_calls[0].status == "skipped"
    assert run.conversation.messages[-1].role == "tool"  # the history stays sendable
    assert "limit of 2 rounds" in run.conversation.messages[-1].content


async def test_a_server_that_does_not_start_is_reported_once_and_the_others_work(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("broken", folder, args=("broken",)) + stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 2, "b": 2}))
    final = await run.ask("sum", Person(Decision.ONCE))
    assert final.content == "Result: 4"
    [notice] = run.notices
    assert notice.startswith("broken did not start")
    assert "stderr: broken server: missing setting FOO" in notice
    await run.ask("again", Person())
    assert len(run.notices) == 1


async def test_a_crashed_server_is_reported_once_and_the_others_keep_working(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("a", folder) + stdio_table("b", folder))
    fake.add_calls(
        Call("a_crash"), Call("b_add", {"a": 1, "b": 1}), Call("a_add", {"a": 5, "b": 5})
    )
    await run.ask("crash", Person(*[Decision.ONCE] * 3))
    crash, add, later = run.conversation.messages[1].tool_calls
    assert crash.status == "error" and "a stopped" in (crash.error or "")
    assert "crashing on purpose" in (crash.error or "")
    assert (add.status, add.result) == ("done", "2")
    assert later.status == "error" and "a stopped" in (later.error or "")
    assert len(run.notices) == 1 and "crashing on purpose" in run.notices[0]
    assert calls_made(folder) == ["crash", "add 1 1"]


async def test_huge_and_hostile_results_are_cut_for_the_model_and_kept_as_they_are(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder, extra='auto_approve = ["huge", "hostile"]\n'))
    size = RESULT_SENT + 5_000
    fake.add_calls(Call("huge", {"size": size}), Call("hostile"))
    await run.ask("big", Person())
    huge, hostile = run.conversation.messages[1].tool_calls
    assert huge.result is not None and len(huge.result) == size  # kept whole on disk
    sent = fake.tool_messages[1][0]["content"]
    assert sent.endswith("[… 5,000 more characters of the result not sent]")
    assert len(sent) < size
    assert hostile.result == HOSTILE  # kept as written; made harmless where it is shown


async def test_a_conversation_can_offer_a_disabled_server_and_a_server_can_be_restarted(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    spare = folder / "spare"
    spare.mkdir()
    run = run_with(
        stdio_table("calc", folder)
        + stdio_table("spare", spare, extra="enabled = false\n")
        + stdio_table("broken", folder, args=("broken",), extra="enabled = false\n")
    )
    toolbox = run.toolbox
    enabled = await toolbox.catalogue()
    assert {tool.server for tool in enabled.tools} == {"calc"}
    assert [s.started for s in toolbox.states()] == [True, False, False]
    chosen = await toolbox.catalogue(["spare", "broken"])
    assert {tool.server for tool in chosen.tools} == {"spare"}
    assert chosen.find("add") is not None  # no clash with calc's add: it is not offered
    [problem] = toolbox.take_problems()
    assert problem.startswith("broken did not start")
    calc, started_spare, broken = toolbox.states()
    assert calc.tools is not None and started_spare.tools is not None
    assert broken.tools is None and broken.problem == problem
    await toolbox.catalogue(["broken"])
    assert toolbox.take_problems() == []  # told once
    await toolbox.restart("broken")
    assert not toolbox.states()[2].started
    await toolbox.catalogue(["broken"])
    assert toolbox.take_problems() == [problem]  # a restart that fails again is told again
    tool = (await toolbox.catalogue(["spare"])).find("echo")
    assert tool is not None
    await toolbox.restart("spare")
    result = await toolbox.run(tool, {"text": "after"})  # a call after a restart starts it
    assert result.text == "after"
    assert calls_made(spare) == ["echo after"]


async def test_stopping_while_a_tool_runs_cancels_it_at_the_server(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder, extra='auto_approve = ["slow"]\n'))
    fake.add_calls(Call("slow", {"seconds": 120}))
    task = asyncio.create_task(run.ask("wait", Person()))
    await wait_until(lambda: (folder / "started").exists())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: (folder / "cancelled").exists())
    call = run.conversation.messages[1].tool_calls[0]
    assert call.status == "stopped" and call.duration_seconds is not None
    assert run.conversation.messages[-1].content == STOPPED_RUNNING
    assert fake.open_streams == 0


async def test_a_call_past_the_tool_timeout_is_stopped_and_reported(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with("tool_timeout = 1\n" + stdio_table("calc", folder))
    fake.add_calls(Call("slow", {"seconds": 120}))
    await run.ask("wait", Person(Decision.ONCE))
    call = run.conversation.messages[1].tool_calls[0]
    assert call.status == "error" and "no answer within 1 s" in (call.error or "")
    await wait_until(lambda: (folder / "cancelled").exists())


async def test_stopping_the_next_turn_closes_its_stream(
    fake: FakeOpenAI, run_with: Any, folder: Path
) -> None:
    run = run_with(stdio_table("calc", folder, extra='auto_approve = ["add"]\n'))
    fake.add_calls(Call("add", {"a": 1, "b": 1}))
    fake.add(deltas=["word "], endless=True)
    task = asyncio.create_task(run.ask("go on", Person()))
    await wait_until(
        lambda: (
            len(run.conversation.messages) == 4
            and run.conversation.messages[-1].content.startswith("word word word")
        )
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: fake.open_streams == 0)
    assert run.conversation.messages[-1].status == "stopped"
    assert run.conversation.messages[-1].content.startswith("word word")


async def wait_until(condition: Any, seconds: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def test_no_mcp_import_until_a_server_starts() -> None:
    """The package's modules (and a toolbox) are built without the SDK; it comes in with
    the first server."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from chat_tui.tools import loop, toolbox, approvals, catalogue, servers, mcp_client\n"
        "from chat_tui.tools.approvals import Approvals\n"
        "toolbox.Toolbox({}, Approvals({}), call_timeout=1)\n"
        "print(sorted(m for m in ('mcp', 'httpx') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
