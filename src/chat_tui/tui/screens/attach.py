"""Attaching a file: a path typed (Tab completes) or picked in a tree; the offer to attach a
path pasted into the message box; and showing an attachment.

The file is read in a worker (a 20 MB image must not freeze the screen), and a file that
cannot be attached is explained in the dialog, which stays open to try another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from chat_tui.attachments import AttachmentError, read_attachment
from chat_tui.models import Attachment
from chat_tui.safetext import display_text, one_line
from chat_tui.tui.screens.modals import ConfirmDialog, Dialog
from chat_tui.tui.widgets.attachment_chips import human_size
from chat_tui.typed_paths import complete, typed_file
from chat_tui.viewer import open_in_viewer

SHOWN_CHOICES = 12
"""Completion lists at most this many names under the input."""


class PathInput(Input):
    """The path box: Tab completes the name being typed instead of moving the focus."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "tab",
            "complete",
            "Complete",
            id="attach.complete",
            tooltip="Complete the file name (again: list the names that match).",
            show=False,
        ),
    ]

    def action_complete(self) -> None:
        dialog = self.screen
        if isinstance(dialog, AttachDialog):
            dialog.complete_path()


class SafeDirectoryTree(DirectoryTree):
    """Textual's tree reads each file name as markup; here a name is only text."""

    def process_label(self, label: str | Text) -> Text:
        text = Text(display_text(label)) if isinstance(label, str) else label
        return text.split()[0] if text.plain else text

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")]


class AttachDialog(Dialog):
    """Dismisses with the `PendingAttachment` read, or None.

    `refusal` says why a file read cannot go with the message (attached already, one too
    many); the dialog then shows it and stays open.
    """

    def __init__(self, cwd: Path, refusal: Callable[[Attachment], str | None]) -> None:
        super().__init__()
        self._cwd = cwd
        self._refusal = refusal
        self._last_completed: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box attach-box"):
            yield Label("Attach a file", classes="dialog-title")
            with Horizontal(classes="attach-body"):
                with Vertical(classes="attach-form"):
                    yield PathInput(
                        placeholder="Path of a file: ~/…, ./…, /…", id="attach-path", compact=True
                    )
                    yield Static(id="attach-choices", classes="dialog-text", markup=False)
                    yield Static(id="attach-error", classes="dialog-error", markup=False)
                    yield Static(
                        "Enter attaches · Tab completes · shift+tab browses · Esc closes",
                        classes="dialog-hint",
                    )
                tree = SafeDirectoryTree(self._cwd, id="attach-tree")
                tree.show_root = False
                yield tree

    def on_mount(self) -> None:
        self.query_one("#attach-choices").display = False
        self.query_one("#attach-error").display = False
        self.query_one(PathInput).focus()

    # -- completing ------------------------------------------------------------------------

    @work(exclusive=True, group="complete", exit_on_error=False)
    async def complete_path(self) -> None:
        box = self.query_one(PathInput)
        typed = box.value
        completion = await asyncio.to_thread(complete, typed, self._cwd)
        if box.value != typed:  # typed on meanwhile: that wins
            return
        if completion.text != typed:
            box.value = completion.text
            box.cursor_position = len(completion.text)
        # The list shows once Tab cannot complete further (at once if it completed nothing).
        several = len(completion.choices) > 1
        again = completion.text == typed or self._last_completed == completion.text
        self._show_choices(completion.choices if several and again else [])
        if not completion.choices:
            self._show_error("No file or folder starts with that.")
        else:
            self._show_error("")
        self._last_completed = completion.text

    def _show_choices(self, choices: list[str]) -> None:
        shown = [one_line(c, 60) for c in choices[:SHOWN_CHOICES]]
        if len(choices) > SHOWN_CHOICES:
            shown.append(f"…and {len(choices) - SHOWN_CHOICES} more")
        widget = self.query_one("#attach-choices", Static)
        widget.update(Content("   ".join(shown)))
        widget.display = bool(shown)

    def _show_error(self, text: str) -> None:
        widget = self.query_one("#attach-error", Static)
        widget.update(Content(display_text(text)))
        widget.display = bool(text)

    @on(Input.Changed, "#attach-path")
    def _typed(self) -> None:
        self._last_completed = None

    # -- choosing --------------------------------------------------------------------------

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        box = self.query_one(PathInput)
        box.value = str(event.path)
        box.cursor_position = len(box.value)
        box.focus()

    @on(Input.Submitted, "#attach-path")
    def _submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self._show_error("Type the path of a file, or pick one in the tree.")
            return
        self._read(event.value)

    @work(exclusive=True, group="read", exit_on_error=False)
    async def _read(self, typed: str) -> None:
        self._show_error("")
        self._show_choices([])
        try:
            path = await asyncio.to_thread(typed_file, typed, self._cwd)
            pending = await asyncio.to_thread(read_attachment, path)
        except AttachmentError as error:
            self._show_error(str(error))
            return
        refused = self._refusal(pending.attachment)
        if refused:
            self._show_error(refused)
            return
        self.dismiss(pending)


def paste_offer(path: Path) -> ConfirmDialog:
    """A paste named an existing file: attach it (True), or paste the text (None)."""
    return ConfirmDialog(
        "Attach this file?",
        Content(one_line(str(path), 200)),
        confirm_label="Attach",
        cancel_label="Paste as text",
        variant="primary",
    )


class AttachmentViewer(Dialog):
    """A sent (or waiting) attachment: a text file's content, or an image's size and
    dimensions with a way to open it in the system's viewer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "o",
            "open_viewer",
            "Open",
            id="attachment.open_viewer",
            tooltip="Open the image in the system's viewer.",
        ),
    ]

    def __init__(
        self,
        attachment: Attachment,
        *,
        text: str | None = None,
        dimensions: tuple[int, int] | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__()
        self._attachment = attachment
        self._text = text
        self._dimensions = dimensions
        self._path = path

    def compose(self) -> ComposeResult:
        attachment = self._attachment
        facts = [attachment.media_type, human_size(attachment.size)]
        if self._dimensions is not None:
            facts.append(f"{self._dimensions[0]} × {self._dimensions[1]} pixels")
        with Vertical(classes="dialog-box -wide attachment-viewer"):
            yield Label(Content(one_line(attachment.name, 70)), classes="dialog-title")
            yield Static(" · ".join(facts), classes="dialog-label", markup=False)
            if self._text is not None:
                with VerticalScroll(classes="attachment-text"):
                    yield Static(Content(display_text(self._text)), markup=False)
                yield Static("Esc closes", classes="dialog-hint")
            else:
                yield Static(id="viewer-note", classes="dialog-text", markup=False)
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Close", id="cancel", compact=True)
                    yield Button("Open in viewer", id="confirm", variant="primary", compact=True)
                hint = "o opens it in the system's viewer · Esc closes"
                yield Static(hint, classes="dialog-hint")

    def on_mount(self) -> None:
        for button in self.query("#confirm"):
            button.focus()

    @on(Button.Pressed, "#confirm")
    def action_open_viewer(self) -> None:
        if self._text is None:
            self._open()

    @on(Button.Pressed, "#cancel")
    def _close(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, group="viewer", exit_on_error=False)
    async def _open(self) -> None:
        note = self.query_one("#viewer-note", Static)
        if self._path is None:
            problem: str | None = "The stored copy of this image cannot be found."
        else:
            problem = await asyncio.to_thread(open_in_viewer, self._path)
        note.update(Content(display_text(problem or "Opened in the system's viewer.")))
