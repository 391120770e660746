"""Helpers for driving the real app in Pilot tests (typing, waiting, reading the screen)."""

from __future__ import annotations

from textual.message import Message
from textual.notifications import Notify

from chat_tui.config import Settings, load_settings
from chat_tui.paths import config_file


async def type_text(pilot, text: str) -> None:
    """Type `text` key by key into whatever has the focus."""
    await pilot.press(*[c if c != " " else "space" for c in text])


async def run_palette_command(pilot, name: str) -> None:
    """Open the command palette, search for `name` and run the best match."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await type_text(pilot, name)
    await pilot.pause(0.3)  # the palette searches in the background
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
