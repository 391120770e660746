"""Killing, signalling and closing the real `chat-tui` process in the middle of a reply.

Each test runs `python -m chat_tui` in a pseudo-terminal against the loopback server, types a
prompt, and interrupts the reply while it streams. The server logs what it sent and when, so
what is on disk afterwards can be checked against what was sent.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from textual.binding import Binding

from chat_tui.signals import GRACE_SECONDS
from chat_tui.tui.app import ChatApp
from chat_tui.tui.widgets.prompt_input import PromptInput
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, saved_files, send, wait_for
from tests.support.pty import Terminal

WORDS = [f"w{n:04d} " for n in range(3000)]
"""The reply: numbered words, so any saved prefix says exactly where it stopped."""
SCRIPT = "".join(WORDS)
CHUNK_DELAY = 0.02
"""50 words a second."""
LOSS_ALLOWED = 1.5
"""Seconds of streamed text a SIGKILL may lose: the one-second checkpoint, plus slack for a
busy test machine."""


@pytest.fixture
def slow_reply(fake: FakeOpenAI) -> FakeOpenAI:
    fake.add(deltas=WORDS, delay=CHUNK_DELAY)
    return fake


def start(chat_tui, base_url: str, *args: str) -> Terminal:
    return chat_tui("--base-url", base_url, *args, size=SIZE)


def ask_and_stream(terminal: Terminal, fake: FakeOpenAI, words: int) -> None:
    """Send a prompt and wait until `words` words of the reply have been sent."""
    terminal.wait_for("Ask anything")
    terminal.type("Tell me a long story\r")
    deadline = time.monotonic() + 30
    while len(fake.sent) < words:
        assert time.monotonic() < deadline, f"only {len(fake.sent)} words were sent"
        assert terminal.process.poll() is None, terminal.screen
        time.sleep(0.01)


def sent_before(fake: FakeOpenAI, moment: float) -> str:
    return "".join(text for when, text in fake.sent if when <= moment)


def data_files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


def conversation_on_disk(data_dir: Path) -> dict:
    files = sorted((data_dir / "conversations").glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text("utf-8"))


def test_sigkill_mid_reply_loses_at_most_the_last_second(
    slow_reply: FakeOpenAI, data_dir: Path, chat_tui
) -> None:
    terminal = start(chat_tui, slow_reply.base_url)
    ask_and_stream(terminal, slow_reply, words=200)  # four seconds: several checkpoints
    killed_at = time.monotonic()
    terminal.signal(signal.SIGKILL)
    assert terminal.wait() == -signal.SIGKILL

    # Every file chat-tui keeps is intact: conversations parse, nothing half-written shows.
    for name, path in data_files(data_dir).items():
        if name.endswith(".json") and not Path(name).name.startswith("."):
            json.loads(path.read_text("utf-8"))
        else:
            assert name in {".lock", "index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"} or (
                Path(name).name.startswith(".") and name.endswith(".tmp")
            ), name
    saved = conversation_on_disk(data_dir)
    prompt, reply = saved["messages"]
    assert prompt["content"] == "Tell me a long story"
    assert reply["status"] == "streaming"  # a checkpoint: the next start calls it interrupted
    content = reply["content"]
    assert SCRIPT.startswith(content) and len(content) % len(WORDS[0]) == 0
    must_have = sent_before(slow_reply, killed_at - LOSS_ALLOWED)
    assert content.startswith(must_have), (
        f"lost {len(must_have) - len(content)} characters sent more than "
        f"{LOSS_ALLOWED} s before the kill"
    )

    # The next start shows the partial reply, marked interrupted.
    again = start(chat_tui, slow_reply.base_url, "--open", saved["id"])
    again.wait_for("⚠ interrupted")
    again.wait_for(WORDS[len(content) // len(WORDS[0]) - 1].strip())
    again.type("\x11")  # ctrl+q
    assert again.wait() == 0
    assert conversation_on_disk(data_dir)["messages"][-1]["content"] == content


QUITTING = {
    "SIGTERM": lambda t: t.signal(signal.SIGTERM),
    "SIGHUP (terminal closed)": lambda t: t.hang_up(),
    "SIGINT": lambda t: t.signal(signal.SIGINT),
    "ctrl+c": lambda t: t.type("\x03"),
    "ctrl+q": lambda t: t.type("\x11"),
}


@pytest.mark.parametrize("how", list(QUITTING))
def test_signals_and_quit_keys_save_what_arrived_and_exit_cleanly(
    how: str, slow_reply: FakeOpenAI, data_dir: Path, chat_tui
) -> None:
    terminal = start(chat_tui, slow_reply.base_url)
    ask_and_stream(terminal, slow_reply, words=60)
    asked_at = time.monotonic()
    QUITTING[how](terminal)
    assert terminal.wait() == 0
    if how != "SIGHUP (terminal closed)":
        assert "\x1b[?1049l" in terminal.output, "the terminal was not given back"
    reply = conversation_on_disk(data_dir)["messages"][-1]
    assert reply["status"] == "stopped"  # saved on the way out, not just checkpointed
    assert SCRIPT.startswith(reply["content"])
    assert reply["content"].startswith(sent_before(slow_reply, asked_at - 0.5))


def test_a_signal_still_saves_and_exits_when_the_terminal_is_frozen(
    slow_reply: FakeOpenAI, data_dir: Path, chat_tui
) -> None:
    """Nobody reads the terminal, so the app blocks on its own output; SIGTERM must still
    save what arrived and end the process (the watchdog does it from outside the loop)."""
    terminal = start(chat_tui, slow_reply.base_url)
    ask_and_stream(terminal, slow_reply, words=20)
    terminal.stop_reading()
    terminal.wait_until_blocked()
    signalled_at = time.monotonic()
    terminal.signal(signal.SIGTERM)
    assert terminal.wait(timeout=GRACE_SECONDS + 15) == 0
    assert time.monotonic() - signalled_at < GRACE_SECONDS + 10
    terminal.resume_reading()
    assert "\x1b[?1049l" not in terminal.output, "the orderly exit ran: nothing was stuck"
    reply = conversation_on_disk(data_dir)["messages"][-1]
    assert reply["status"] == "stopped"
    assert SCRIPT.startswith(reply["content"]) and len(reply["content"]) >= 20 * len(WORDS[0])


async def test_ctrl_c_copies_selected_text_and_otherwise_quits_after_saving(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    fake.add(deltas=["slow "] * 10_000, delay=0.02)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await wait_for(pilot, lambda: fake.chunks_sent >= 5, "five chunks")
        prompt = app.query_one(PromptInput)
        await pilot.press(*"copy me")
        prompt.select_all()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running and app.clipboard == "copy me"
        assert prompt.text == "copy me"
        prompt.move_cursor(prompt.document.end)  # nothing selected now
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
    reply = saved_files(data_dir)[0]["messages"][-1]
    assert reply["status"] == "stopped" and reply["content"].startswith("slow slow")


def test_help_tells_the_truth_about_quitting() -> None:
    """The key panel and the README describe ctrl+c as it behaves (see the test above)."""
    bindings = {
        binding.key: binding for binding in ChatApp.BINDINGS if isinstance(binding, Binding)
    }
    assert (bindings["ctrl+q"].action, bindings["ctrl+q"].description) == ("quit", "Quit")
    assert (bindings["ctrl+c"].action, bindings["ctrl+c"].description) == ("help_quit", "Quit")
    assert "copies" in (bindings["ctrl+c"].tooltip or "")
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    assert "| ctrl+q or ctrl+c | Quit" in readme
