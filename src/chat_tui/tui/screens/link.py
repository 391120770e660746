"""A link in a reply is only followed when the person, having seen where it goes, says so.

The model wrote the link text; the address can be anything. So a click shows the address
itself, exactly as written (control characters made visible), with its host picked out, and
offers Open / Copy / Cancel. Only web and mail links can be opened from here.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar
from urllib.parse import urlsplit

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static

from chat_tui.safetext import display_text, one_line
from chat_tui.tui.screens.modals import Dialog

OPENABLE_SCHEMES = ("http", "https", "mailto")


def openable(href: str) -> bool:
    """Whether chat-tui will hand `href` to the browser (web and mail links only)."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return False
    if parts.scheme.lower() not in OPENABLE_SCHEMES:
        return False
    return parts.scheme.lower() == "mailto" or bool(parts.hostname)


def describe(href: str) -> str:
    """Where the link goes, in a line: the host of a web link, or why it will not open."""
    if not openable(href):
        return (
            "chat-tui only opens web links (http, https) and mail links; copy it if you trust it."
        )
    parts = urlsplit(href.strip())
    if parts.scheme.lower() == "mailto":
        return f"Writes an e-mail to: {one_line(parts.path, 80)}"
    return f"Opens a page on: {one_line(parts.hostname or '', 80)}"


class LinkScreen(Dialog):
    """Shows `href` literally and lets the person open it, copy it, or leave it (Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy", id="link.copy", tooltip="Copy the address."),
        Binding("o", "open", "Open", id="link.open", tooltip="Open it in the web browser."),
    ]

    def __init__(self, href: str) -> None:
        super().__init__()
        self.href = href
        """The address exactly as the reply gave it."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Open this link?", classes="dialog-title", markup=False)
            yield Static(Content(display_text(self.href)), id="link-address", classes="dialog-text")
            yield Static(Content(describe(self.href)), id="link-where", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Copy", id="copy", compact=True)
                yield Button(
                    "Open",
                    id="open",
                    variant="primary",
                    compact=True,
                    disabled=not openable(self.href),
                )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        self.app.copy_text(self.href, "the link")  # type: ignore[attr-defined]
        self.dismiss(None)

    @on(Button.Pressed, "#open")
    def action_open(self) -> None:
        if not openable(self.href):
            return
        # In a thread, owned by the app: finding and starting a browser can take a moment,
        # and this dialog is gone by then.
        self.app.run_worker(
            partial(self.app.open_url, self.href.strip()),
            thread=True,
            group="open-link",
            exit_on_error=False,
        )
        self.dismiss(None)
