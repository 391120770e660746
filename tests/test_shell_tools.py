"""Tools from the shell: `ask` and `--plain` run as real processes with a real MCP server (over
stdio) and the loopback OpenAI server; the person answers at a pseudo-terminal, or cannot be
asked at all."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.loopback import Call, FakeOpenAI
from tests.support.mcp_server import calls_made, server_pids, stdio_table
from tests.support.sample_data import seed_conversation
from tests.support.shell import TIMEOUT, Shell, make_shell, read_until


@pytest.fixture
def shell(isolated_dirs: Path, data_dir: Path) -> Shell:
    return make_shell(data_dir)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "mcp"
    path.mkdir()
    return path


@pytest.fixture
def config(isolated_dirs: Path) -> Path:
    """The config file, private as chat-tui writes it (server env and headers hold tokens)."""
    path = isolated_dirs / "config" / "chat-tui" / "config.toml"
    path.parent.mkdir(parents=True)
    path.touch(mode=0o600)
    return path


def saved_calls(shell: Shell) -> list[dict[str, object]]:
    [saved] = shell.saved()
    return [call for m in saved["messages"] for call in m.get("tool_calls", [])]


def test_ask_without_a_terminal_denies_calls_it_may_not_run(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 2, "b": 3}), text="Let me add.")
    result = shell.run("ask", "What is 2 + 3?", "--base-url", fake.base_url)
    assert result.returncode == 0, result.stderr
    assert calls_made(folder) == []
    assert result.stdout == "Let me add.\nResult: The person denied this call, so it was not run.\n"
    assert result.stderr == (
        "chat-tui: calc · add: not run: there is no terminal to ask "
        "(allow it with --allow-tool add)\n"
    )
    [call] = saved_calls(shell)
    assert call["status"] == "denied" and "no terminal to ask" in str(call["error"])


def test_ask_runs_calls_allowed_by_flag_or_by_the_config(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder, extra='auto_approve = ["echo"]\n'))
    fake.add_calls(Call("add", {"a": 2, "b": 3}), Call("echo", {"text": "hi"}))
    fake.add_text("Both done.")
    result = shell.run("ask", "Go", "--base-url", fake.base_url, "--allow-tool", "add")
    assert result.returncode == 0, result.stderr
    assert calls_made(folder) == ["add 2 3", "echo hi"]
    assert result.stdout == "Both done.\n"
    lines = result.stderr.splitlines()
    assert lines[0] == 'chat-tui: tool call: calc · add {"a": 2, "b": 3}'
    assert lines[1].startswith("chat-tui: calc · add: done in ") and "(1 character)" in lines[1]
    assert lines[2] == 'chat-tui: tool call: calc · echo {"text": "hi"}'
    statuses = [(call["tool"], call["status"], call["result"]) for call in saved_calls(shell)]
    assert statuses == [("add", "done", "5"), ("echo", "done", "hi")]
    [saved] = shell.saved()
    assert [m["role"] for m in saved["messages"]] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]


def test_no_tools_offers_none_and_starts_no_server(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder, args=("broken",)))
    result = shell.run("ask", "Hi", "--base-url", fake.base_url, "--no-tools")
    assert (result.returncode, result.stderr) == (0, "")
    assert "tools" not in fake.chat_requests[0].body
    with_tools = shell.run("ask", "Hi", "--base-url", fake.base_url)
    assert with_tools.returncode == 0
    assert "calc did not start" in with_tools.stderr  # it would have been started


def test_a_person_at_a_terminal_is_asked_and_always_is_remembered(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    errors = run_at_terminal(shell, fake, typed_ahead=b"y\n", answer=b"a\n")
    assert 'tool call: calc · add {"a": 2, "b": 3}' in errors
    assert "Run it? [y]es once, [a]lways, [N]o:" in errors
    assert calls_made(folder) == ["add 2 3"]
    assert 'auto_approve = ["add"]' in config.read_text()
    fake.add_calls(Call("add", {"a": 1, "b": 1}))
    result = shell.run("ask", "Again", "--base-url", fake.base_url)  # no terminal: allowed now
    assert result.returncode == 0 and calls_made(folder) == ["add 2 3", "add 1 1"]


def test_a_key_typed_before_the_question_does_not_answer_it(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 2, "b": 3}))
    errors = run_at_terminal(shell, fake, typed_ahead=b"y\n", answer=b"n\n")
    assert "calc · add: denied" in errors
    assert calls_made(folder) == []
    assert [call["status"] for call in saved_calls(shell)] == ["denied"]


def run_at_terminal(shell: Shell, fake: FakeOpenAI, *, typed_ahead: bytes, answer: bytes) -> str:
    """Run `ask` with stdin and stderr on a pseudo-terminal; type `typed_ahead` at once and
    `answer` when the question shows. What the terminal showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*shell.command, "ask", "What is 2 + 3?", "--base-url", fake.base_url],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=shell.env,
    )
    os.close(terminal)
    os.write(controller, typed_ahead)
    shown = _read_until(controller, b"[N]o: ")
    os.write(controller, answer)
    stdout, _ = process.communicate(timeout=TIMEOUT)
    shown += _read_until(controller, None)
    os.close(controller)
    assert process.returncode == 0, shown
    assert stdout.decode().startswith("Result: ")
    return shown.decode(errors="replace")


def _read_until(fd: int, marker: bytes | None) -> bytes:
    """What the terminal shows until `marker` (None: until the process lets it go)."""
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while marker is None or marker not in data:
        assert time.monotonic() < deadline, f"{marker!r} never came: {data!r}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_ctrl_c_while_a_tool_runs_cancels_it_and_keeps_the_exchange(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder, extra='auto_approve = ["slow"]\n'))
    fake.add_calls(Call("slow", {"seconds": 120}), text="Waiting.")
    process = shell.start("ask", "Wait", "--base-url", fake.base_url, stdin=subprocess.DEVNULL)
    read_until(process, b"Waiting.")
    deadline = time.monotonic() + TIMEOUT
    while not (folder / "started").exists():
        assert time.monotonic() < deadline, "the tool never started"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, errors
    assert (folder / "cancelled").exists()  # the server was told, and stopped the tool
    assert b"calc \xc2\xb7 slow: stopped by the person" in errors
    [call] = saved_calls(shell)
    assert call["status"] == "stopped"
    assert fake.open_streams == 0


def test_plain_offers_the_tools_too(
    shell: Shell, fake: FakeOpenAI, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("calc", folder))
    fake.add_calls(Call("echo", {"text": "from plain"}))
    result = shell.run(
        "--plain", "--base-url", fake.base_url, "--allow-tool", "calc.echo", input="Echo\n"
    )
    assert result.returncode == 0, result.stderr
    assert "Assistant: Result: from plain" in result.stdout
    assert calls_made(folder) == ["echo from plain"]


# -- chat-tui mcp list -----------------------------------------------------------------------


def test_mcp_list_shows_each_server_and_its_tools(shell: Shell, config: Path, folder: Path) -> None:
    config.write_text(
        stdio_table("calc", folder)
        + '\n[mcp_servers.off]\nurl = "https://user:pw@mcp.example/mcp?token=x"\nenabled = false\n'
    )
    result = shell.run("mcp", "list")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("calc  (") and "mcp_server.py" in lines[0]
    assert lines[1] == "  starts · 8 tools"
    assert "    add  Add two whole numbers." in lines
    assert "    dotted.name (offered as dotted_name)  A name OpenAI does not accept as it is." in (
        lines
    )
    assert lines[-2:] == ["off  (https://mcp.example/mcp)", "  disabled (enabled = false)"]


def test_mcp_list_fails_when_a_server_does_not_start(
    shell: Shell, config: Path, folder: Path
) -> None:
    config.write_text(stdio_table("broken", folder, args=("broken",)) + stdio_table("calc", folder))
    result = shell.run("mcp", "list")
    assert result.returncode == 1
    assert "  does not start: broken did not start" in result.stdout
    assert "(stderr: broken server: missing setting FOO)" in result.stdout
    assert "  starts · 8 tools" in result.stdout  # the other one still listed


def test_mcp_list_without_servers_says_where_to_add_them(shell: Shell, config: Path) -> None:
    result = shell.run("mcp", "list")
    assert result.returncode == 0
    assert (
        result.stdout == f"No MCP servers configured: add [mcp_servers.NAME] tables to {config}\n"
    )


def offered_tools(fake: FakeOpenAI) -> list[str]:
    """The names of the tools the last chat request offered."""
    [request] = [r for r in fake.requests if r.path.endswith("/chat/completions")][-1:]
    return sorted(tool["function"]["name"] for tool in request.body.get("tools", []))


@pytest.mark.parametrize(("enabled", "switched_on"), [(False, True), (True, False)])
def test_continuing_a_conversation_offers_the_servers_it_switched(
    shell: Shell,
    fake: FakeOpenAI,
    config: Path,
    folder: Path,
    store,
    enabled: bool,
    switched_on: bool,
) -> None:
    """A conversation's own choice of servers (made in the app's ctrl+o) holds in `ask
    --continue` too, both ways."""
    config.write_text(stdio_table("calc", folder, extra=f"enabled = {str(enabled).lower()}\n"))
    conversation = seed_conversation(store, "20250101-000000-aaaaaa", "Hello", "Hi")
    conversation.tool_servers = {"calc": switched_on}
    store.save(conversation)
    fake.add_text("Fine.")
    result = shell.run("ask", "--continue", "Go on", "--base-url", fake.base_url)
    assert result.returncode == 0, result.stderr
    if switched_on:
        assert "add" in offered_tools(fake)
    else:
        assert offered_tools(fake) == []
        assert server_pids(folder) == []
