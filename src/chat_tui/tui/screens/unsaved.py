"""Asked before quitting when a conversation could not be saved (disk full, read-only)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static

from chat_tui.safetext import display_text, one_line
from chat_tui.tui.screens.modals import Dialog

SHOWN_TITLES = 5


class UnsavedScreen(Dialog):
    """Dismissed with True to quit anyway (losing the listed conversations); Esc or "Keep
    trying" dismiss with None and chat-tui goes on retrying."""

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
        shown = self.titles[:SHOWN_TITLES]
        lines += [f"  • {one_line(title or 'New conversation', 60)}" for title in shown]
        if count > SHOWN_TITLES:
            lines.append(f"  …and {count - SHOWN_TITLES} more")
        lines += [
            "",
            f"Why: {self.reason}",
            "",
            "chat-tui keeps retrying while it runs. Quit anyway and lose what is not saved?",
        ]
        with Vertical(classes="dialog-box -wide"):
            yield Label("Unsaved conversations", classes="dialog-title", markup=False)
            yield Static(Content(display_text("\n".join(lines))), id="unsaved-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep trying", id="keep", variant="primary", compact=True)
                yield Button("Quit anyway", id="quit", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#keep")
    def _keep(self) -> None:
        self.dismiss(None)
