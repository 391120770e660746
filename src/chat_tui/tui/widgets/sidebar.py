"""The left column: a filter box over the list of saved conversations.

Under the box, while the index catches up with the files, a line says how far it has got
(how much a search covers so far).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from chat_tui.tui.messages import SearchChanged
from chat_tui.tui.widgets.conversation_list import ConversationList, Row


class SearchBox(Input):
    """Typing narrows the list; Esc clears the filter, down moves into the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            id="sidebar.clear_search",
            tooltip="Clear the search (when it is empty: leave the search box).",
            show=False,
        ),
        Binding(
            "down",
            "to_list",
            "List",
            id="sidebar.to_list",
            tooltip="Move from the search box into the list of conversations.",
            show=False,
        ),
    ]

    def action_clear_filter(self) -> None:
        if self.value:
            self.value = ""
        else:
            self.screen.focus_next()

    def action_to_list(self) -> None:
        self.screen.query_one(ConversationList).focus()


class Sidebar(Vertical):
    """Search box and conversation list; the screen feeds it rows."""

    def compose(self) -> ComposeResult:
        yield SearchBox(placeholder="Search  (/ or ctrl+f)", id="search", compact=True)
        yield Static(id="search-status", markup=False)
        yield ConversationList(id="conversations")

    @property
    def search_box(self) -> SearchBox:
        return self.query_one(SearchBox)

    @property
    def conversation_list(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def query_text(self) -> str:
        return self.search_box.value.strip()

    def set_rows(self, rows: list[Row]) -> None:
        listing = self.conversation_list
        listing.empty_text = "No matches" if self.query_text else "No conversations yet"
        listing.set_rows(rows)

    @property
    def status_text(self) -> str:
        return str(self.query_one("#search-status", Static).content)

    def set_status(self, text: str) -> None:
        """The line under the search box (indexing progress); hidden when empty."""
        if text == self.status_text:
            return  # an update asks for a layout of the screen even when nothing changed
        status = self.query_one("#search-status", Static)
        status.update(text)
        status.set_class(bool(text), "-shown")

    def set_empty_text(self, text: str) -> None:
        """What the list says while it has no rows (e.g. while the index is being built)."""
        listing = self.conversation_list
        listing.empty_text = text
        listing.refresh()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(SearchChanged(event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        listing = self.conversation_list
        listing.focus()
        # Choose from the list's own message loop: posted from here, the sender would be
        # this sidebar, and Textual stops a message at its sender's parent (the screen
        # would never hear of it).
        listing.call_later(listing.action_choose)
