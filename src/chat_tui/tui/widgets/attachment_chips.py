"""Attachments as chips: `▣ shot.png · 84 KB · image ×`, above the input or in a message.

A chip can be focused (Tab reaches it); Delete or Backspace, or a click on its ×, removes a
chip that is still to be sent, and Enter (or a click) shows a sent one. The name is a
file name from the person's disk: it is shown as text, never as markup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content, Span
from textual.style import Style
from textual.widgets import Static

from chat_tui.models import Attachment
from chat_tui.safetext import one_line
from chat_tui.tui.messages import AttachmentOpened, AttachmentRemoved

NAME_WIDTH = 40
"""A longer file name is shortened in the middle of the chip."""


def human_size(size: int) -> str:
    """`512 B`, `84 KB`, `2.4 MB`: what a person reads at a glance."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def chip_content(attachment: Attachment, *, removable: bool) -> Content:
    """The chip's text; the × is a click target that removes the chip."""
    icon = "▣" if attachment.kind == "image" else "≡"
    text = (
        f"{icon} {one_line(attachment.name, NAME_WIDTH)} · "
        f"{human_size(attachment.size)} · {attachment.kind}"
    )
    if not removable:
        return Content(text)
    cross = Style.from_meta({"@click": "remove"})
    return Content(f"{text} ×", [Span(len(text) + 1, len(text) + 2, cross)])


class AttachmentChip(Static, can_focus=True):
    """One attachment; posts `AttachmentRemoved` or `AttachmentOpened` to the screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "delete,backspace",
            "remove",
            "Remove",
            id="attachment.remove",
            tooltip="Remove this attachment from the message (before it is sent).",
        ),
        Binding(
            "enter",
            "open",
            "Show",
            id="attachment.show",
            tooltip="Show this attachment: the text of a file, or an image.",
        ),
    ]

    def __init__(self, attachment: Attachment, *, removable: bool) -> None:
        super().__init__(
            chip_content(attachment, removable=removable),
            classes="attachment-chip",
            markup=False,
        )
        self.attachment = attachment
        self.removable = removable

    def action_remove(self) -> None:
        if self.removable:
            self.post_message(AttachmentRemoved(self.attachment))

    def action_open(self) -> None:
        self.post_message(AttachmentOpened(self.attachment))

    def on_click(self, event: events.Click) -> None:
        # A click on the × runs its action; anywhere else on a sent chip shows it.
        if not self.removable and event.chain == 1:
            self.action_open()


class AttachmentChips(VerticalScroll, can_focus=False):
    """Chips one under another (a row would cut off the third); hidden while there are none.

    Above the input it scrolls past a few lines, and a focused chip scrolls into view.
    """

    def __init__(
        self, attachments: Sequence[Attachment] = (), *, removable: bool, id: str | None = None
    ) -> None:
        chips = [AttachmentChip(a, removable=removable) for a in attachments]
        super().__init__(*chips, id=id)
        self.add_class("attachment-chips")
        self.removable = removable
        self.attachments = list(attachments)
        self.display = bool(attachments)
        self._shown = 0
        """How many times `show` was called: only the last call's chips are drawn."""
        self._replacing = asyncio.Lock()

    def show(self, attachments: Sequence[Attachment]) -> AwaitComplete:
        """Show these chips instead; done after the next message, or once awaited.

        Calls that come before the last one has drawn (an edit cancelled by a switch) do
        not interleave: each replaces the row whole, and a call overtaken by a newer one
        draws nothing."""
        self.attachments = list(attachments)
        self.display = bool(attachments)
        self._shown += 1
        this = self._shown

        async def replace() -> None:
            async with self._replacing:
                if this != self._shown:
                    return
                await self.remove_children()
                chips = [AttachmentChip(a, removable=self.removable) for a in self.attachments]
                if chips:
                    await self.mount_all(chips)

        return AwaitComplete(replace()).call_next(self)
