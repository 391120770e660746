"""`chat-tui ask` and `chat-tui --plain`, run as real processes against the loopback server."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chat_tui import limits
from chat_tui.store import ConversationStore
from tests.support.loopback import FakeOpenAI
from tests.support.pty import Terminal
from tests.support.sample_data import seed_conversation
from tests.support.shell import Shell, make_shell, one_line_error, read_until

SLOW_STORY = ["Once ", "upon ", "a ", "time "] + ["and more "] * 60
"""A reply that takes about twelve seconds: long enough to be interrupted mid-stream."""


@pytest.fixture
def shell(isolated_dirs: Path, data_dir: Path) -> Shell:
    return make_shell(data_dir)


# -- ask -----------------------------------------------------------------------------------


def test_ask_streams_the_reply_to_stdout_and_saves_the_exchange(
    shell: Shell, fake: FakeOpenAI
) -> None:
    fake.add_text("Hello there!\nA second line.", chunk=3)
    result = shell.run("ask", "What is", "up?", "--base-url", fake.base_url)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Hello there!\nA second line.\n"
    assert fake.chat_requests[0].messages == [{"role": "user", "content": "What is up?"}]
    [saved] = shell.saved()
    assert saved["title"] == "What is up?"
    assert [(m["role"], m["content"], m["status"]) for m in saved["messages"]] == [
        ("user", "What is up?", "complete"),
        ("assistant", "Hello there!\nA second line.", "complete"),
    ]


def test_ask_adds_piped_text_after_a_blank_line_or_takes_it_alone(
    shell: Shell, fake: FakeOpenAI
) -> None:
    diff = "diff --git a/x.py b/x.py\n+print('hi')\n"
    with_instruction = shell.run("ask", "review this", "--base-url", fake.base_url, input=diff)
    alone = shell.run("ask", "--base-url", fake.base_url, input="Just this\n")
    assert with_instruction.returncode == alone.returncode == 0
    sent = [r.messages[-1]["content"] for r in fake.chat_requests]
    assert sent == ["review this\n\ndiff --git a/x.py b/x.py\n+print('hi')", "Just this"]
    assert alone.stdout == "Echo: Just this\n"


def test_ask_continue_adds_to_the_latest_and_no_save_leaves_no_trace(
    shell: Shell, fake: FakeOpenAI, store: ConversationStore
) -> None:
    seed_conversation(
        store, "older", "Old question", "Old answer", when="2026-11-20T10:00:00.000+00:00"
    )
    seed_conversation(
        store, "newer", "Recent question", "Recent answer", when="2026-11-24T10:00:00.000+00:00"
    )
    url = ("--base-url", fake.base_url)

    assert shell.run("ask", "--continue", "And then?", *url).returncode == 0
    assert shell.run("ask", "--continue", "--no-save", "Off the record", *url).returncode == 0

    continued, unsaved = fake.chat_requests
    assert [m["content"] for m in continued.messages] == [
        "Recent question",
        "Recent answer",
        "And then?",
    ]
    assert [m["content"] for m in unsaved.messages][-2:] == ["Echo: And then?", "Off the record"]
    by_id = {c["id"]: c for c in shell.saved()}
    assert set(by_id) == {"older", "newer"}
    assert [m["content"] for m in by_id["newer"]["messages"]] == [
        "Recent question",
        "Recent answer",
        "And then?",
        "Echo: And then?",
    ]
    assert len(by_id["older"]["messages"]) == 2


def test_ask_without_a_server_or_a_prompt_says_so_in_one_line(shell: Shell) -> None:
    no_server = shell.run("ask", "Hello?")
    assert no_server.returncode == 1
    assert "no server configured" in one_line_error(no_server.stderr)
    no_prompt = shell.run("ask", "--base-url", "http://127.0.0.1:9/v1", input="  \n")
    assert no_prompt.returncode == 2
    assert "ask needs a prompt" in one_line_error(no_prompt.stderr)
    assert not (shell.data_dir / "conversations").exists()


def test_ctrl_c_stops_ask_keeps_the_partial_reply_and_exits_130(
    shell: Shell, fake: FakeOpenAI
) -> None:
    fake.add(deltas=SLOW_STORY, delay=0.2)
    process = shell.start(
        "ask", "Tell me a story", "--base-url", fake.base_url, stdin=subprocess.DEVNULL
    )
    seen = read_until(process, b"upon ")
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=30)
    assert process.returncode == 130, errors
    printed = (seen + rest).decode()
    assert printed.startswith("Once upon ") and printed.endswith("\n")
    [saved] = shell.saved()
    reply = saved["messages"][1]
    assert reply["status"] == "stopped"
    assert reply["content"] == printed.removesuffix("\n")
    assert len(reply["content"]) < len("".join(SLOW_STORY))


# -- the command line itself ---------------------------------------------------------------


USAGE_ERRORS = [
    (["--bogus"], "chat-tui: unrecognized arguments: --bogus (see chat-tui --help)"),
    (["ask", "hi", "--bogus"], "unrecognized arguments: --bogus (see chat-tui ask --help)"),
    (["export"], "one of the arguments ID --all is required (see chat-tui export --help)"),
    (["export", "--all", "--format", "pdf"], "argument --format: invalid choice"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_errors_are_one_line_and_exit_2(shell: Shell, args: list[str], message: str) -> None:
    result = shell.run(*args)
    assert result.returncode == 2
    assert message in one_line_error(result.stderr)
    assert result.stdout == ""


def test_a_malformed_config_is_one_line_and_exit_2(shell: Shell, isolated_dirs: Path) -> None:
    config = isolated_dirs / "config" / "chat-tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("model = [unclosed\n")
    for args in (["ask", "hi"], ["--plain"]):
        result = shell.run(*args)
        assert result.returncode == 2
        assert "is not valid TOML" in one_line_error(result.stderr)


BAD_SETTINGS = [
    (["ask", "hi", "--base-url", "http://[::1"], {}, "", "--base-url has an IPv6 address"),
    (
        ["ask", "hi", "--base-url", "http://localhost:99999/v1"],
        {},
        "",
        "--base-url has port 99999, which is outside 1-65535: 'http://localhost:99999/v1'",
    ),
    (
        ["--plain", "--base-url", "http://local\x1b[2Jhost/v1\x07"],
        {},
        "",
        "--base-url has a control character in it (␛): 'http://local␛[2Jhost/v1␇'",
    ),
    (
        ["ask", "hi", "--base-url", "http://me:hunter2@localhost:8080/v1"],
        {},
        "",
        "--base-url has a user name or password in it",
    ),
    (["ask", "hi"], {"OPENAI_BASE_URL": "http://localhost:0/v1"}, "", "OPENAI_BASE_URL has port 0"),
    (
        ["ask", "hi"],
        {"CHAT_TUI_TIMEOUT": ""},
        "base_url = 'http://127.0.0.1:9/v1'\ntimeout = 1e309\n",
        "config.toml must be a number of seconds from 1 to 3600 (got inf)",
    ),
    (
        ["ask", "hi", "--provider", "local"],
        {},
        "[providers.local]\nbase_url = 'http://127.0.0.1:65536/v1'\n",
        "providers.local.base_url in ",
    ),
    (["--plain"], {"CHAT_TUI_MAX_RETRIES": "1e309"}, "", "CHAT_TUI_MAX_RETRIES must be a whole"),
]


@pytest.mark.parametrize(
    ("args", "env", "config", "message"),
    BAD_SETTINGS,
    ids=[
        "ipv6-unclosed",
        "port-too-big",
        "control-characters",
        "password",
        "env-port-0",
        "timeout-infinite",
        "provider-port",
        "env-retries-infinite",
    ],
)
def test_a_bad_setting_is_one_line_naming_where_it_came_from_and_exit_2(
    shell: Shell,
    isolated_dirs: Path,
    args: list[str],
    env: dict[str, str],
    config: str,
    message: str,
) -> None:
    if config:
        path = isolated_dirs / "config" / "chat-tui" / "config.toml"
        path.parent.mkdir(parents=True)
        path.write_text(config)
    result = shell.run(*args, env=env)
    assert (result.returncode, result.stdout) == (2, "")
    line = one_line_error(result.stderr)
    assert message in line
    assert "hunter2" not in line and "\x1b" not in line and "\x07" not in line
    assert not (shell.data_dir / "conversations").exists()


def test_a_key_setting_of_the_wrong_type_is_a_warning_naming_it(
    shell: Shell, fake: FakeOpenAI, isolated_dirs: Path
) -> None:
    path = isolated_dirs / "config" / "chat-tui" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('model = "from-file"\n[keys]\n"app.quit" = 5\n"reply.copy" = "f5"\n')
    result = shell.run("ask", "Hi", "--base-url", fake.base_url)
    assert (result.returncode, result.stdout) == (0, "Echo: Hi\n")
    warning = one_line_error(result.stderr)
    assert '[keys] app.quit = 5: a key must be text, e.g. "ctrl+q" (ignored)' in warning
    assert fake.chat_requests[0].body["model"] == "from-file"  # the rest of the file applies


def test_the_full_screen_app_refuses_a_bad_address_before_it_starts(chat_tui) -> None:
    terminal = chat_tui("--base-url", "http://[::1")
    assert terminal.wait() == 2
    deadline = time.monotonic() + 20
    while "without its closing ]" not in terminal.output:
        assert time.monotonic() < deadline, terminal.output
        time.sleep(0.05)
    assert "chat-tui: --base-url has an IPv6 address without its closing ]" in terminal.output


# -- plain ---------------------------------------------------------------------------------


def test_plain_chat_through_stdin_and_stdout(shell: Shell, fake: FakeOpenAI) -> None:
    fake.add_text("Hi! I am a \x1b[2Jfake.")
    fake.add_text("Second answer.")
    typed = "Hello\n\nSecond question\nexit\nnever sent\n"
    result = shell.run("--plain", "--base-url", fake.base_url, input=typed)
    assert (result.returncode, result.stderr) == (0, "")
    transcript = result.stdout
    assert "You: Hello\nAssistant: Hi! I am a ␛[2Jfake.\n" in transcript
    assert "You: Second question\nAssistant: Second answer.\n" in transcript
    assert transcript.rstrip().endswith("You: exit")
    assert "\x1b" not in transcript
    assert len(fake.chat_requests) == 2
    [saved] = shell.saved()
    assert [m["content"] for m in saved["messages"]] == [
        "Hello",
        "Hi! I am a \x1b[2Jfake.",
        "Second question",
        "Second answer.",
    ]


@pytest.mark.parametrize("leave", ["quit\n", "/quit\n", "/exit\n", "EXIT\n", ""])
def test_plain_leaves_on_quit_words_and_end_of_input(shell: Shell, leave: str) -> None:
    result = shell.run(
        "--plain", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", input=leave
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.count("You: ") == 1


def test_plain_is_chosen_when_stdout_is_not_a_terminal(shell: Shell) -> None:
    result = shell.run(
        "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o-mini", input="exit\n"
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("chat-tui · gpt-4o-mini · type exit or press ctrl+d to leave")
    assert result.stdout.rstrip().endswith("You: exit")


def test_plain_is_chosen_on_a_dumb_terminal(shell: Shell, fake: FakeOpenAI) -> None:
    """stdout is a real terminal here, so only TERM=dumb keeps the full-screen app away."""
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [*shell.command, "--base-url", fake.base_url],
        stdin=subprocess.PIPE,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env={**shell.env, "TERM": "dumb"},
    ) as process:
        os.close(terminal)
        _, errors = process.communicate(b"Ping\n", timeout=30)
    output = _read_all(controller)
    assert process.returncode == 0, errors
    assert "You: Ping" in output
    assert "Assistant: Echo: Ping" in output


def _read_all(fd: int) -> str:
    """What a finished process wrote to a pseudo-terminal (reading its end fails once empty)."""
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def test_plain_ctrl_c_stops_a_reply_then_ctrl_c_at_the_prompt_leaves(
    shell: Shell, fake: FakeOpenAI
) -> None:
    fake.add(deltas=SLOW_STORY, delay=0.2)
    process = shell.start("--plain", "--base-url", fake.base_url)
    assert process.stdin is not None
    process.stdin.write(b"Tell me a story\n")
    process.stdin.flush()
    seen = read_until(process, b"upon ")
    process.send_signal(signal.SIGINT)
    seen = read_until(process, b"[stopped]\n\nYou: ", seen)
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert errors == b""
    transcript = (seen + rest).decode()
    [saved] = shell.saved()
    reply = saved["messages"][1]
    assert reply["status"] == "stopped"
    assert f"Assistant: {reply['content']}\n[stopped]" in transcript
    assert reply["content"].startswith("Once upon ")


# -- the full-screen app -------------------------------------------------------------------


def test_the_full_screen_app_starts_in_a_terminal_and_continue_opens_the_latest(
    shell: Shell, store: ConversationStore
) -> None:
    seed_conversation(store, "older", "Plan a trip", "Sure.", when="2026-11-20T10:00:00.000+00:00")
    seed_conversation(
        store, "latest", "Remember the milk", "Noted.", when="2026-11-24T10:00:00.000+00:00"
    )
    command = [*shell.command, "--continue", "--theme", "textual-light"]
    with Terminal(command, {**shell.env, "TERM": "xterm-256color"}) as terminal:
        terminal.wait_for("Noted.")
        terminal.type("\x11")  # ctrl+q
        assert terminal.wait(timeout=30) == 0
    screen = terminal.text
    assert "Remember the milk" in screen
    assert "Sure." not in screen  # the older conversation's reply: not the one opened


# -- input without end ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [["ask", "Summarise this"], ["--plain"]])
def test_endless_piped_input_is_refused_at_its_limit_before_anything_is_sent(
    shell: Shell, fake: FakeOpenAI, command: list[str]
) -> None:
    """`yes | chat-tui ask …` or a stream with no line end: read to the limit and refused
    with the figure, never held in memory whole (the test would not end)."""
    with open("/dev/zero", "rb") as endless:
        process = shell.start(*command, "--base-url", fake.base_url, stdin=endless.fileno())
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert one_line_error(stderr.decode()).endswith(
        f"is more than the {limits.size_text(limits.PROMPT_BYTES)} chat-tui reads"
    )
    assert fake.chat_requests == []
