"""Copying: a message, the last reply and single code blocks, by key, click and palette.

What reached the clipboard is read from `app.clipboard` (the copy Textual keeps of what it
sent to the terminal as OSC 52). System clipboard tools are real programs found on PATH: the
tests point PATH at an empty directory, or at a directory holding a stand-in `xclip` script.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from chat_tui import clipboard
from chat_tui.tui.widgets.code_block import CodeFence, CopyLabel
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, Notes, run_palette_command, send, settle

NO_CLIPBOARD = "Sent via the terminal (OSC 52); no system clipboard found."

# A reply whose code holds an escape character: shown as ␛, copied without it (pasted into
# a terminal, an escape sequence could act as a command).
CODE_ONE = "printf '\x1b[1mbold\x1b[0m'\necho done"
CODE_TWO = "def f():\n\treturn 1"
REPLY = f"First:\n\n```sh\n{CODE_ONE}\n```\n\nThen:\n\n```python\n{CODE_TWO}\n```\n"
COPIED_REPLY = REPLY.replace("\x1b", "")


@pytest.fixture
def no_system_clipboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No clipboard tool can be found, whatever this machine has installed."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def fake_tool(folder: Path, name: str, body: str) -> Path:
    """A small Python program called `name` on PATH standing in for a clipboard tool."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!{sys.executable}\nimport os, sys, time\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def ask_for_two_snippets(pilot, fake: FakeOpenAI, chunk: int) -> list[CodeFence]:
    """Send a prompt answered by `REPLY` (streamed `chunk` characters at a time)."""
    fake.add_text(REPLY, chunk=chunk)
    await send(pilot, "two snippets")
    await settle(pilot)
    return list(pilot.app.screen.query(CodeFence))


async def focused_copy(pilot, key: str = "c") -> None:
    await pilot.press(key)
    await settle(pilot)


async def test_c_copies_the_focused_message_as_written(
    fake: FakeOpenAI, make_app, no_system_clipboard
) -> None:
    reply = "Colour: \x1b[31mred\x1b[0m\nsecond line\nthird line"
    fake.add(deltas=[reply])
    app, notes = make_app(), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "paint it")
        await settle(pilot)
        await pilot.press("shift+tab")  # from the input to the last message
        views = list(app.screen.query(MessageView))
        assert app.focused is views[-1]
        assert "␛[31mred" in str(views[-1].query_one("MarkdownParagraph").render())
        await focused_copy(pilot)
        # The text as written, minus the control characters that could act when pasted.
        assert app.clipboard == "Colour: [31mred[0m\nsecond line\nthird line"
        assert notes.texts[-1] == f"Copied\nCopied the reply: 3 lines.\n{NO_CLIPBOARD}"

        await pilot.press("up")  # the message above
        assert app.focused is views[0]
        await focused_copy(pilot)
        assert app.clipboard == "paint it"
        assert notes.texts[-1].startswith("Copied\nCopied your message: 8 characters.")


async def test_arrows_move_between_messages_and_code_blocks(
    fake: FakeOpenAI, make_app, no_system_clipboard
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        first, second = await ask_for_two_snippets(pilot, fake, chunk=7)
        user, reply = app.screen.query(MessageView)
        await pilot.press("shift+tab")
        assert app.focused is second  # the last thing in the log
        steps = []
        for key in ("up", "up", "up", "up", "down", "j", "k"):
            await pilot.press(key)
            steps.append(app.focused)
        assert steps == [first, reply, user, user, reply, first, reply]
        await pilot.press("down", "down", "down")  # past the last one: back to typing
        assert isinstance(app.focused, PromptInput)


async def test_last_reply_by_key_and_from_the_palette(
    fake: FakeOpenAI, make_app, no_system_clipboard
) -> None:
    app, notes = make_app(), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert notes.texts[-1] == "Copy\nThere is no reply to copy yet."
        await send(pilot, "one")
        await settle(pilot)
        await send(pilot, "two")
        await settle(pilot)
        await pilot.press("ctrl+l")  # works while typing in the input
        await settle(pilot)
        assert app.clipboard == "Echo: two"
        assert notes.texts[-1].startswith("Copied\nCopied the last reply: 9 characters.")

        await pilot.press("shift+tab", "up", "up")  # the first reply
        await focused_copy(pilot)
        assert app.clipboard == "Echo: one"
        await run_palette_command(pilot, "reply: copy last")
        await settle(pilot)
        assert app.clipboard == "Echo: two"


async def test_palette_copies_the_selected_message_or_the_last_code_block(
    fake: FakeOpenAI, make_app, no_system_clipboard
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask_for_two_snippets(pilot, fake, chunk=4)
        await run_palette_command(pilot, "code: copy last")
        await settle(pilot)
        assert app.clipboard == CODE_TWO
        await run_palette_command(pilot, "message: copy")  # nothing selected: the last one
        await settle(pilot)
        assert app.clipboard == COPIED_REPLY


async def test_each_code_block_copies_by_key_and_by_click(
    fake: FakeOpenAI, make_app, no_system_clipboard
) -> None:
    app, notes = make_app(), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        first, second = await ask_for_two_snippets(pilot, fake, chunk=5)
        assert "␛[1mbold" in first.code  # shown with the escape made visible
        await pilot.press("shift+tab")
        assert app.focused is second
        await focused_copy(pilot, "c")
        assert app.clipboard == CODE_TWO
        assert notes.texts[-1] == f"Copied\nCopied the code block: 2 lines.\n{NO_CLIPBOARD}"

        await pilot.press("up")
        assert app.focused is first
        await focused_copy(pilot, "enter")
        assert app.clipboard == "printf '[1mbold[0m'\necho done"  # no ESC, and no ␛ either

        app.copy_to_clipboard("something else")
        app.query_one(PromptInput).focus()
        second.scroll_visible(animate=False)
        await pilot.pause()
        assert await pilot.click(second.query_one(CopyLabel))
        await settle(pilot)
        assert app.clipboard == CODE_TWO


async def test_a_system_clipboard_tool_gets_the_text_too(
    fake: FakeOpenAI, make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, received = tmp_path / "bin", tmp_path / "received.txt"
    fake_tool(bin_dir, "xclip", f"open({str(received)!r}, 'wb').write(sys.stdin.buffer.read())")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DISPLAY", ":7")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    fake.add(deltas=["naïve café ✓\n", "line two"])
    app, notes = make_app(), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await send(pilot, "unicode please")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert received.read_text("utf-8") == "naïve café ✓\nline two"
        assert app.clipboard == "naïve café ✓\nline two"
        assert notes.texts[-1] == (
            "Copied\nCopied the last reply: 2 lines.\n"
            "System clipboard via xclip, and the terminal (OSC 52)."
        )


# -- the clipboard module on its own ------------------------------------------------------


def test_tools_are_tried_in_order_until_one_works(tmp_path: Path) -> None:
    bin_dir, received = tmp_path / "bin", tmp_path / "got"
    fake_tool(bin_dir, "wl-copy", "sys.exit(1)")  # e.g. no Wayland compositor after all
    fake_tool(bin_dir, "xsel", f"open({str(received)!r}, 'w').write(sys.stdin.read())")
    env = {"PATH": str(bin_dir), "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    tools = clipboard.candidate_tools(env, platform="linux")
    assert [t.name for t in tools] == ["wl-copy", "xsel"]  # xclip is not installed
    assert clipboard.copy_to_system("hello", tools) == "xsel"
    assert received.read_text() == "hello"


def test_tools_need_their_display(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    for name in ("wl-copy", "xclip", "pbcopy"):
        fake_tool(bin_dir, name, "")
    assert clipboard.candidate_tools({"PATH": str(bin_dir)}, platform="linux") == []
    mac = clipboard.candidate_tools({"PATH": str(bin_dir)}, platform="darwin")
    assert [t.name for t in mac] == ["pbcopy"]


def test_a_hanging_tool_is_given_up_quickly(tmp_path: Path) -> None:
    tool = fake_tool(tmp_path / "bin", "xclip", "time.sleep(30)")
    started = time.monotonic()
    result = clipboard.copy_to_system(
        "x", [clipboard.ClipboardTool("xclip", (str(tool),))], timeout=0.5
    )
    assert result is None
    assert time.monotonic() - started < 5


def test_a_missing_or_broken_tool_is_not_an_error(tmp_path: Path) -> None:
    missing = clipboard.ClipboardTool("gone", (str(tmp_path / "nope"),))
    not_executable = tmp_path / "plain"
    not_executable.write_text("")
    broken = clipboard.ClipboardTool("plain", (str(not_executable),))
    assert clipboard.copy_to_system("x", [missing, broken]) is None
    assert not os.access(not_executable, os.X_OK)


def test_what_the_person_is_told() -> None:
    assert clipboard.size_of("a") == "1 character"
    assert clipboard.size_of("abc") == "3 characters"
    assert clipboard.size_of("a\nb\n") == "2 lines"
    assert clipboard.copied_message("a\nb", "the reply", None) == (
        f"Copied the reply: 2 lines.\n{NO_CLIPBOARD}"
    )
    assert "via pbcopy" in clipboard.copied_message("a", "x", "pbcopy")


def test_code_blocks_are_found_as_the_widget_finds_them() -> None:
    text = "~~~\ntilde\n~~~\n\n    indented\n\n- item\n\n  ```js\n  nested()\n  ```\n"
    assert clipboard.code_blocks(text) == ["tilde", "indented", "nested()"]
