"""The help screen (F1, or ? outside text boxes): every key binding and palette command.

Nothing here is written by hand: the rows come from the `Binding`s of chat-tui's classes
(through `keys.catalogue.binding_groups`), with the person's remapped keys, and from
`commands.PALETTE`, so the help cannot drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from chat_tui.tui.commands import PALETTE
from chat_tui.tui.keys.catalogue import binding_groups
from chat_tui.tui.keys.owners import key_owners
from chat_tui.tui.keys.spec import current_keys, key_label
from chat_tui.tui.textual_compat import app_keymap

FOOTNOTE = (
    'Remap any key in config.toml by its id, e.g. [keys] "conversation.new" = "alt+n". '
    "Text boxes also have the usual editing keys (arrows, home/end, ctrl+z undo, ctrl+x/c/v); "
    "the message log and lists scroll with ↑ ↓ pgup pgdn home end."
)


class HelpRow(Horizontal):
    """Keys, what they do, and the binding id (the name to use in the config)."""

    def __init__(self, keys: str, what: str, binding_id: str = "", classes: str = "") -> None:
        super().__init__(classes=f"help-row {classes}")
        self.keys = keys
        self.what = what
        self.binding_id = binding_id

    def compose(self) -> ComposeResult:
        yield Static(Content(self.keys), classes="help-keys", markup=False)
        yield Static(Content(self.what), classes="help-what", markup=False)
        yield Static(Content(self.binding_id), classes="help-id", markup=False)


class HelpScreen(ModalScreen[None]):
    """A scrollable list of every binding, grouped by where it applies."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,f1,question_mark,q",
            "dismiss",
            "Close",
            id="help.close",
            tooltip="Close this help.",
        ),
    ]

    def compose(self) -> ComposeResult:
        keymap = app_keymap(self.app)
        with Vertical(id="help-box") as box:
            box.border_title = "Keys and commands"
            box.border_subtitle = "esc closes"
            with VerticalScroll(id="help-scroll"):
                for group in binding_groups(key_owners()):
                    yield Static(Content(group.title), classes="help-group", markup=False)
                    yield from _binding_rows(group.bindings, keymap)
                palette = _palette_key(keymap)
                yield Static(
                    Content(f"Command palette ({palette})"), classes="help-group", markup=False
                )
                for command in PALETTE:
                    yield HelpRow(command.name, command.help, classes="-command")
                yield Static(Content(FOOTNOTE), classes="help-note", markup=False)

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()


def _binding_rows(bindings: Iterable[Binding], keymap: Mapping[str, str]) -> Iterable[HelpRow]:
    for binding in bindings:
        keys = ", ".join(key_label(key) for key in current_keys(binding, keymap))
        yield HelpRow(keys, binding.tooltip or binding.description, binding.id or "")


def _palette_key(keymap: Mapping[str, str]) -> str:
    from chat_tui.tui.app import ChatApp

    palette = next(b for b in ChatApp.BINDINGS if isinstance(b, Binding) and b.id == "app.palette")
    return " or ".join(key_label(k) for k in current_keys(palette, keymap))
