"""Small dialogs: confirm, rename, restore from trash.

Everything a dialog shows that came from a person or a model is passed as `Content`, so a
title like "[bold]x[/]" is displayed as typed.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.button import ButtonVariant
from textual.widgets.option_list import Option

from chat_tui.index import ConversationSummary
from chat_tui.safetext import one_line


class Dialog(ModalScreen[object]):
    """Shared frame: a title, a body, and Esc to cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without changes.")
    ]
    DEFAULT_CLASSES = "dialog"

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog):
    """Yes/no question; dismisses with True or None."""

    def __init__(
        self,
        title: str,
        question: Content,
        confirm_label: str = "Delete",
        *,
        cancel_label: str = "Cancel",
        variant: ButtonVariant = "error",
    ) -> None:
        super().__init__()
        self._title = title
        self._question = question
        self._confirm_label = confirm_label
        self._cancel_label = cancel_label
        self._variant: ButtonVariant = variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self._title, classes="dialog-title", markup=False)
            yield Static(self._question, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._cancel_label, id="cancel", compact=True)
                yield Button(self._confirm_label, id="confirm", variant=self._variant, compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class RenameDialog(Dialog):
    """Edit a title (or another name); Enter saves (dismisses with it), Esc cancels."""

    def __init__(self, title: str, *, heading: str = "Rename conversation") -> None:
        super().__init__()
        self._current = title
        self._heading = heading

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self._heading, classes="dialog-title", markup=False)
            yield Input(self._current, id="new-title", select_on_focus=True)
            yield Static("Enter saves · Esc cancels", classes="dialog-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        title = " ".join(event.value.split())
        self.dismiss(title or None)


class TrashDialog(Dialog):
    """Deleted conversations; Enter restores the highlighted one (dismisses with its id)."""

    def __init__(self, deleted: list[ConversationSummary]) -> None:
        super().__init__()
        self._deleted = deleted

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Restore from trash", classes="dialog-title")
            if self._deleted:
                yield OptionList(
                    *(
                        Option(Content(one_line(s.title or "Untitled", 70)), id=s.id)
                        for s in self._deleted
                    ),
                    id="trash",
                )
                yield Static("Enter restores · Esc closes", classes="dialog-hint")
            else:
                yield Static("The trash is empty.", classes="dialog-text")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
