"""Helpers for driving the real app in Pilot tests (typing, waiting, reading the screen)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.command import Command, CommandList, CommandPalette
from textual.message import Message
from textual.notifications import Notify

from chat_tui.config import Settings, load_settings
from chat_tui.paths import config_file


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


async def type_text(pilot, text: str) -> None:
    """Type `text` key by key into whatever has the focus."""
    await pilot.press(*[c if c != " " else "space" for c in text])


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


def settings_with_config(base_url: str, text: str) -> Settings:
    """Write the user's `config.toml` and resolve settings from it, as the command does."""
    config = config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    return load_settings(environ={}, cli={"base_url": base_url, "timeout": 5, "max_retries": 0})
