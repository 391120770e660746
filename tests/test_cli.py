"""`chat-tui ask` and `--plain` scenarios run through `cli.main` in this process.

The real SDK talks to the loopback server exactly as in a subprocess; running in-process only
saves importing the SDK again for every case (seconds each on a slow machine). What needs a
process of its own (signals, terminals, pipes) is in test_shell_chat.py.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chat_tui.cli import main
from chat_tui.console import StreamPrinter
from chat_tui.store import ConversationStore
from tests.support.disk import file_size_limit
from tests.support.loopback import FakeOpenAI
from tests.support.sample_data import seed_conversation
from tests.support.sample_data import stored_conversations as saved
from tests.support.shell import one_line_error

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """`chat-tui ARGS` with `stdin` piped in; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("CHAT_TUI_MAX_RETRIES", "0")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        piped = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
        monkeypatch.setattr(sys, "stdin", piped)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ask_flags_choose_model_and_system_prompt(
    run: Run, fake: FakeOpenAI, data_dir: Path
) -> None:
    code, out, _ = run(
        "ask", "Hi", "--model", "local-llama", "--system", "Be terse.", "--base-url", fake.base_url
    )
    assert (code, out) == (0, "Echo: Hi\n")
    request = fake.chat_requests[0]
    assert request.body["model"] == "local-llama"
    assert request.messages[0] == {"role": "system", "content": "Be terse."}
    [conversation] = saved(data_dir)
    assert (conversation.model, conversation.system_prompt) == ("local-llama", "Be terse.")
    assert conversation.messages[1].model == "local-llama"


def test_flags_given_with_continue_win_over_the_conversation(
    run: Run, fake: FakeOpenAI, store: ConversationStore, data_dir: Path
) -> None:
    earlier = seed_conversation(store, "earlier", "First", "Reply", model="gpt-4o")
    earlier.system_prompt = "Old rules."
    store.save(earlier)
    run("ask", "--continue", "Keep going", "--base-url", fake.base_url)
    run("ask", "--continue", "Now", "--model", "gpt-4.1", "--base-url", fake.base_url)
    kept, switched = fake.chat_requests
    assert kept.body["model"] == "gpt-4o"
    assert kept.messages[0] == {"role": "system", "content": "Old rules."}
    assert switched.body["model"] == "gpt-4.1"
    [conversation] = saved(data_dir)
    assert [m.model for m in conversation.messages if m.role == "assistant"] == [
        "gpt-4o",
        "gpt-4o",
        "gpt-4.1",
    ]


def test_ask_failure_is_one_line_exit_1_and_is_saved(
    run: Run, fake: FakeOpenAI, data_dir: Path
) -> None:
    fake.add(status=500, error_message="The \x1b[31mengine\x1b[0m is on fire.")
    code, out, err = run("ask", "Hello?", "--base-url", fake.base_url)
    assert (code, out) == (1, "")
    line = one_line_error(err)
    assert "server error (500)" in line and "␛[31mengine" in line
    assert "\x1b" not in line
    [conversation] = saved(data_dir)
    assert conversation.messages[1].status == "failed"
    assert "500" in (conversation.messages[1].error or "")


def test_a_partial_reply_that_breaks_is_printed_saved_and_fails(
    run: Run, fake: FakeOpenAI, data_dir: Path
) -> None:
    fake.add(deltas=["Half ", "a reply"], fault="drop", fault_after=2)
    code, out, err = run("ask", "Go", "--base-url", fake.base_url)
    assert code == 1
    assert out == "Half a reply\n"
    assert "connection broke" in one_line_error(err)
    [conversation] = saved(data_dir)
    reply = conversation.messages[1]
    assert (reply.content, reply.status) == ("Half a reply", "failed")


def test_unknown_conversation_to_open_is_one_line_exit_1(run: Run, fake: FakeOpenAI) -> None:
    code, out, err = run("--plain", "--open", "20990101-000000-abcdef", "--base-url", fake.base_url)
    assert out == ""
    assert code == 1
    assert "no conversation 20990101-000000-abcdef" in one_line_error(err)
    assert fake.chat_requests == []


def test_the_api_key_never_appears_in_any_output_or_file(
    run: Run, fake: FakeOpenAI, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-test-4f9a8b7c6d5e4f3a2b1c"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    fake.add(status=401, error_message=f"Incorrect API key provided: {key}.")
    failed = run("ask", "Hello", "--base-url", fake.base_url)
    answered = run("ask", "--continue", "Again", "--base-url", fake.base_url)
    exports = [run("export", "--all", "--format", f) for f in ("md", "json")]
    listing = run("list", "--json")
    assert fake.chat_requests[1].headers["authorization"] == f"Bearer {key}"
    assert failed[0] == 1 and "rejected the API key" in failed[2]
    assert answered[1] == "Echo: Again\n"
    for _, out, err in [failed, answered, *exports, listing]:
        assert key not in out + err
    files = [p for p in (isolated_dirs / "data").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert key.encode() not in path.read_bytes(), path


def test_plain_errors_are_one_line_and_the_chat_goes_on(
    run: Run, fake: FakeOpenAI, data_dir: Path
) -> None:
    fake.add(status=429, error_message="Slow down.")
    fake.add_text("Better now.")
    code, out, err = run("--plain", "--base-url", fake.base_url, stdin="First\nSecond\n")
    assert code == 0
    assert "rate limiting" in one_line_error(err)
    assert "You: Second\nAssistant: Better now.\n" in out
    [conversation] = saved(data_dir)
    assert [m.status for m in conversation.messages] == [
        "complete",
        "failed",
        "complete",
        "complete",
    ]


def test_plain_continue_resumes_the_latest_conversation(
    run: Run, fake: FakeOpenAI, store: ConversationStore, data_dir: Path
) -> None:
    seed_conversation(store, "older", "Long ago", when="2026-01-01T00:00:00.000+00:00")
    seed_conversation(store, "latest", "Earlier", "Earlier answer")
    code, out, _ = run("--plain", "--continue", "--base-url", fake.base_url, stdin="Later\n")
    assert code == 0
    assert "Continuing “Earlier” (2 messages)" in out
    assert [m["content"] for m in fake.chat_requests[0].messages] == [
        "Earlier",
        "Earlier answer",
        "Later",
    ]
    by_id = {c.id: c for c in saved(data_dir)}
    assert len(by_id["latest"].messages) == 4
    assert len(by_id["older"].messages) == 1


def test_plain_without_continue_starts_a_new_conversation(
    run: Run, fake: FakeOpenAI, store: ConversationStore, data_dir: Path
) -> None:
    seed_conversation(store, "earlier", "Earlier")
    code, _, _ = run("--plain", "--base-url", fake.base_url, stdin="Fresh start\n")
    assert code == 0
    assert fake.chat_requests[0].messages == [{"role": "user", "content": "Fresh start"}]
    assert len(saved(data_dir)) == 2


def test_ask_that_cannot_save_says_so_and_exits_1(run: Run, fake: FakeOpenAI) -> None:
    with file_size_limit(120):  # like a full disk: no conversation file fits
        code, out, err = run("ask", "Hi", "--base-url", fake.base_url)
    assert code == 1
    assert out == "Echo: Hi\n"
    assert "the conversation was not saved" in one_line_error(err)


def test_printer_keeps_windows_line_endings_split_across_pieces_as_newlines() -> None:
    out = io.StringIO()
    printer = StreamPrinter(out)
    for piece in ["one\r", "\ntwo\r", "\x1b[2Jthree\r"]:
        printer.write(piece)
    printer.end_line()
    assert out.getvalue() == "one\ntwo␍␛[2Jthree␍\n"


@pytest.mark.parametrize("command", ["", "ask", "list", "export", "import", "trash", "restore"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command.split(), "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chat-tui {command}".rstrip())
    if not command:
        for flag in ("--model", "--base-url", "--provider", "--system", "--theme", "--open"):
            assert flag in out


def test_plain_open_continues_the_conversation_asked_for(
    run: Run, fake: FakeOpenAI, store: ConversationStore, data_dir: Path
) -> None:
    seed_conversation(store, "chosen", "Older topic", when="2026-01-01T00:00:00.000+00:00")
    seed_conversation(store, "newer", "Newer topic")
    code, _, _ = run("--plain", "--open", "chosen", "--base-url", fake.base_url, stdin="More\n")
    assert code == 0
    assert [m["content"] for m in fake.chat_requests[0].messages] == ["Older topic", "More"]
    by_id = {c.id: c for c in saved(data_dir)}
    assert [m.content for m in by_id["chosen"].messages] == ["Older topic", "More", "Echo: More"]
    assert len(by_id["newer"].messages) == 1


@pytest.mark.parametrize(
    ("own_setting", "expected"),
    [(None, "120 False"), ("30", "30 True")],
)
def test_the_app_imports_textual_at_its_own_update_rate_unless_the_person_set_one(
    own_setting: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faster screen updates are a shorter wait for a key's echo; `TEXTUAL_FPS` still wins."""
    if own_setting is None:
        monkeypatch.delenv("TEXTUAL_FPS", raising=False)
    else:
        monkeypatch.setenv("TEXTUAL_FPS", own_setting)
    probe = (
        "import os; from chat_tui.tui.launch import import_textual; import_textual(); "
        "from textual import constants; print(constants.MAX_FPS, 'TEXTUAL_FPS' in os.environ)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert shown.stdout.split("\n")[0] == expected
