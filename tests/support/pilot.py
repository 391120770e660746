"""Driving the real app in Pilot tests: typing, waiting, and reading the screen and the disk."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from textual.app import App
from textual.command import Command, CommandList, CommandPalette
from textual.message import Message
from textual.notifications import Notify
from textual.widgets._toast import Toast
from textual.worker import WorkerCancelled, WorkerFailed

from chat_tui.config import Settings, load_settings
from chat_tui.paths import config_file
from chat_tui.tui.app import ChatApp
from chat_tui.tui.screens.chat import ChatScreen
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import MessageView
from tests.support.disk import file_size_limit

SIZE = (100, 30)
"""The terminal size of the app tests (columns, rows)."""

# -- waiting ---------------------------------------------------------------------------------


async def wait_for(
    pilot, condition: Callable[[], object], what: str = "the condition", timeout: float = 30
) -> None:
    """Let the app run until `condition()` is true; fail, naming `what`, after `timeout` s.

    A test waits on what it needs, never on time: a loaded machine only makes this slower.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause()


async def eventually(pilot, condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Pause until `condition()` holds (True) or `seconds` pass (False).

    For what happens after a refresh, which a busy machine can delay past one pause.
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.05)
    return True


async def wait_for_screen(pilot, kind: type) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), f"{kind.__name__} to open")


async def workers_done(app: App) -> None:
    """Wait for every worker; one cancelled by a newer one (an exclusive refresh) is fine."""
    for _ in range(5):
        try:
            await app.workers.wait_for_complete()
        except (WorkerCancelled, WorkerFailed):
            continue
        return


async def settle(pilot) -> None:
    """Wait for every worker (replies, saves, sidebar) and the screen to catch up."""
    app = pilot.app
    for _ in range(3):
        await workers_done(app)
        await app.saver.flush()
        await pilot.pause()


# -- typing ----------------------------------------------------------------------------------


async def type_text(pilot, text: str) -> None:
    """Type `text` key by key into whatever has the focus."""
    await pilot.press(*[c if c != " " else "space" for c in text])


async def send(pilot, text: str) -> None:
    """Type `text` into the input (ctrl+j for newlines) and press Enter."""
    for line_number, line in enumerate(text.split("\n")):
        if line_number:
            await pilot.press("ctrl+j")
        await pilot.press(*line) if line else None
    await pilot.press("enter")


async def send_past_failing_saves(pilot, text: str) -> None:
    """Send `text` and wait for the reply, not for the saves (they may be failing)."""
    await send(pilot, text)
    await pilot.pause()
    await workers_done(pilot.app)
    await pilot.pause()


@contextlib.asynccontextmanager
async def disk_full_after(pilot, data_dir: Path, first: str) -> AsyncIterator[list[dict]]:
    """Send `first` and let it be saved; then, inside the block, the disk is full (writes
    past 16 bytes fail). Yields the saved files as they were before."""
    await send(pilot, first)
    await settle(pilot)
    before = saved_files(data_dir)
    with file_size_limit(16):
        yield before


def palette_shows(app, query: str) -> bool:
    """The command palette has finished searching and its best match is about `query`."""
    palette = app.screen
    if not isinstance(palette, CommandPalette):
        return False
    searching = any(
        worker.node is palette
        and worker.group == CommandPalette._GATHER_COMMANDS_GROUP
        and not worker.is_finished
        for worker in app.workers
    )
    commands = palette.query_one(CommandList)
    if searching or commands.highlighted is None:
        return False
    best = commands.get_option_at_index(commands.highlighted)
    return isinstance(best, Command) and query.lower() in (best.hit.text or "").lower()


async def run_palette_command(pilot, name: str) -> None:
    """Open the command palette, search for `name` and run the best match."""
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette")
    await type_text(pilot, name)
    await wait_for(pilot, lambda: palette_shows(pilot.app, name), f"the palette to offer {name!r}")
    await pilot.press("enter")
    await pilot.pause()


# -- reading ---------------------------------------------------------------------------------


def screen_of(app: ChatApp) -> ChatScreen:
    assert isinstance(app.screen, ChatScreen)
    return app.screen


def titles(app) -> list[str]:
    """The titles the sidebar lists, top to bottom."""
    return [row.title for row in app.query_one(ConversationList).rows]


def visible_text(app: ChatApp) -> str:
    """Everything the log shows as plain text (message headers and bodies)."""
    parts: list[str] = []
    for view in app.screen.query(MessageView):
        for widget in view.query("Static, MarkdownBlock"):
            parts.append(str(widget.render()))
    return "\n".join(parts)


def screen_lines(app: App) -> list[list]:
    """The segments of every line of the screen as it would be drawn."""
    return [list(strip) for strip in app.screen._compositor.render_strips()]


def screen_text(app: App) -> str:
    """The whole screen as it would be drawn, as text."""
    return "\n".join("".join(seg.text for seg in line) for line in screen_lines(app))


def toasts(app) -> list[str]:
    """The text of every notification on screen, title included."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


class Notes:
    """Every notification the app raises, as "title\nmessage", recorded as it is posted
    (pass as `run_test(message_hook=...)`), so none can expire before the test looks."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            note = message.notification
            self.texts.append(f"{note.title}\n{note.message}" if note.title else note.message)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def saved_files(data_dir: Path) -> list[dict]:
    """Every conversation file under `data_dir`, parsed, by id: by time to the second, then
    at random."""
    folder = data_dir / "conversations"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


# -- settings --------------------------------------------------------------------------------


def settings_with_config(base_url: str, text: str) -> Settings:
    """Write the user's `config.toml` and resolve settings from it, as the command does."""
    config = config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    return load_settings(environ={}, cli={"base_url": base_url, "timeout": 5, "max_retries": 0})


def settings_with_private_config(base_url: str, text: str) -> Settings:
    """`settings_with_config` with the file private, as chat-tui writes it (a server's env
    may hold a token: a file others can read is warned about)."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    return settings_with_config(base_url, text)
