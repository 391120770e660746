"""Asked before quitting when a conversation could not be saved (disk full, read-only)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from chat_tui.safetext import display_text, one_line

SHOWN_TITLES = 5


class UnsavedScreen(ModalScreen[bool]):
    """Dismissed with True to quit anyway (losing the listed conversations), else False."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "keep", "Keep trying", id="unsaved.keep", tooltip="Stay in chat-tui."),
    ]

    def __init__(self, titles: list[str], reason: str) -> None:
        super().__init__()
        self.titles = titles
        """Titles of the conversations that are only in memory."""
        self.reason = reason
        """Why the last save failed, as the store explained it."""

    def compose(self) -> ComposeResult:
        count = len(self.titles)
        noun = "conversation is" if count == 1 else "conversations are"
        lines = [f"{count} {noun} not saved yet:"]
        lines += [
            f"  • {one_line(t or 'New conversation', 60)}" for t in self.titles[:SHOWN_TITLES]
        ]
        if count > SHOWN_TITLES:
            lines.append(f"  …and {count - SHOWN_TITLES} more")
        lines += [
            "",
            f"Why: {self.reason}",
            "",
            "chat-tui keeps retrying while it runs. Quit anyway and lose what is not saved?",
        ]
        with Vertical(id="unsaved-dialog", classes="dialog"):
            yield Static(Content("Unsaved conversations"), classes="dialog-title")
            yield Static(Content(display_text("\n".join(lines))), id="unsaved-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep trying", id="keep", variant="primary")
                yield Button("Quit anyway", id="quit", variant="error")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "quit")

    def action_keep(self) -> None:
        self.dismiss(False)
