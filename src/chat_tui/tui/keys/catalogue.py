"""Every key binding of chat-tui, from the classes it is handed, and remapping them.

The help screen, the docs/keys.md check and the `[keys]` section of the config all read the same
list, so none of them can drift from the code. The person's `[keys]` table maps binding ids
to keys ("conversation.new" = "alt+n"); it is checked here and handed to `App.set_keymap`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding, BindingType
from textual.dom import DOMNode

from chat_tui.config import MAX_KEY_WARNINGS
from chat_tui.tui.keys.spec import check_key_spec, current_keys, key_label
from chat_tui.tui.textual_compat import character_to_key

if TYPE_CHECKING:
    from textual.app import App

GROUP_TITLES: dict[str, str] = {
    "ChatApp": "Everywhere",
    "ChatScreen": "Main screen",
    "PromptInput": "Message box",
    "ApprovalBar": "A tool call waiting for your answer",
    "MessageView": "A selected message (shift+tab from the message box selects the last one)",
    "CodeFence": "A selected code block",
    "SearchBox": "Search box",
    "ConversationList": "Conversation list",
    "Dialog": "Dialogs",
    "HelpScreen": "This help",
}
"""Where each class's bindings apply; other classes are listed under their own name."""


@dataclass(frozen=True)
class KeyGroup:
    """The bindings one class declares, under a title saying where they apply."""

    title: str
    owner: type[DOMNode]
    bindings: tuple[Binding, ...]


Owners = Sequence[type[DOMNode]]
"""The classes whose `BINDINGS` make up the catalogue, in the order the help lists them."""


def binding_groups(owners: Owners) -> list[KeyGroup]:
    """The bindings each of `owners` declares itself (not those it inherits)."""
    return [
        KeyGroup(
            GROUP_TITLES.get(cls.__name__) or _humanise(cls.__name__),
            cls,
            tuple(_as_binding(b) for b in cls.__dict__["BINDINGS"]),
        )
        for cls in owners
        if cls.__dict__.get("BINDINGS")
    ]


def all_bindings(owners: Owners) -> list[Binding]:
    return [binding for group in binding_groups(owners) for binding in group.bindings]


def resolve_keymap(
    keys: Mapping[str, str], owners: Callable[[], Owners]
) -> tuple[dict[str, str], list[str]]:
    """The usable part of a `[keys]` table, and a warning for each entry that is not.

    `owners` is called only when there is something to check: the classes are every screen
    and widget (Markdown among them), which start-up otherwise never needs.
    """
    if not keys:
        return {}, []
    classes = owners()
    known = {b.id for b in all_bindings(classes) if b.id}
    keymap: dict[str, str] = {}
    warnings: list[str] = []
    for binding_id, spec in keys.items():
        if binding_id not in known:
            warnings.append(
                f"[keys] has an unknown binding id {binding_id!r} (ignored); F1 lists every id."
            )
            continue
        problem = check_key_spec(spec)
        if problem:
            warnings.append(f"[keys] {binding_id} = {spec!r}: {problem} (ignored)")
            continue
        keymap[binding_id] = ",".join(k.strip() for k in spec.split(","))
    warnings.extend(_clashes(keymap, classes))
    if len(warnings) > MAX_KEY_WARNINGS:
        more = len(warnings) - MAX_KEY_WARNINGS
        warnings = [*warnings[:MAX_KEY_WARNINGS], f"[keys]: {more} more problems (ignored)"]
    return keymap, warnings


def apply_keymap(app: App[Any], keys: Mapping[str, str], owners: Callable[[], Owners]) -> list[str]:
    """Install the person's `[keys]` on `app`; warnings for what could not be used."""
    keymap, warnings = resolve_keymap(keys, owners)
    app.set_keymap(keymap)
    return warnings


def _clashes(keymap: Mapping[str, str], owners: Owners) -> list[str]:
    """One warning per key that two bindings of the same class now share."""
    warnings: list[str] = []
    for group in binding_groups(owners):
        users: dict[str, list[str]] = {}
        for binding in group.bindings:
            for key in current_keys(binding, keymap):
                normal = character_to_key(key) if len(key) == 1 else key
                users.setdefault(normal, []).append(binding.id or binding.action)
        for key, ids in users.items():
            if len(ids) > 1 and any(i in keymap for i in ids):
                warnings.append(
                    f"[keys]: {key_label(key)} is bound to both {ids[0]} and {ids[1]}; "
                    f"only one of them will work"
                )
    return warnings


def _as_binding(binding: BindingType) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def _humanise(name: str) -> str:
    words = re.findall(r"[A-Z][a-z0-9]*", name) or [name]
    return " ".join([words[0], *(w.lower() for w in words[1:])])
