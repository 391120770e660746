"""Every key binding of chat-tui, found from the `Binding`s of its classes, and remapping them.

The help screen, the README check and the `[keys]` section of the config all read the same
list, so none of them can drift from the code: a binding added to any app, screen or widget
class of chat-tui shows up everywhere by itself. The person's `[keys]` table maps binding ids
to keys ("conversation.new" = "ctrl+t"); it is checked here and handed to `App.set_keymap`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import KEY_DISPLAY_ALIASES, KEY_TO_UNICODE_NAME, Keys, format_key

from chat_tui.tui.textual_compat import character_to_key

if TYPE_CHECKING:
    from textual.app import App

MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")

GROUP_TITLES: dict[str, str] = {
    "ChatApp": "Everywhere",
    "ChatScreen": "Main screen",
    "PromptInput": "Message box",
    "MessageView": "A selected message (shift+tab from the message box selects the last one)",
    "CodeFence": "A selected code block",
    "SearchBox": "Search box",
    "ConversationList": "Conversation list",
    "Dialog": "Dialogs",
    "HelpScreen": "This help",
}
"""Where each class's bindings apply, in the order the help lists them; other classes follow
under their own name."""

_PACKAGES = ("chat_tui.tui.screens", "chat_tui.tui.widgets")


@dataclass(frozen=True)
class KeyGroup:
    """The bindings one class declares, under a title saying where they apply."""

    title: str
    owner: type[DOMNode]
    bindings: tuple[Binding, ...]


def binding_groups() -> list[KeyGroup]:
    """Every class of chat-tui that declares `BINDINGS`, with those bindings."""
    _import_all()
    owners = [
        cls
        for cls in _subclasses(DOMNode)
        if cls.__module__.startswith("chat_tui.") and cls.__dict__.get("BINDINGS")
    ]
    order = list(GROUP_TITLES)
    owners.sort(key=lambda c: order.index(c.__name__) if c.__name__ in order else len(order))
    return [
        KeyGroup(
            GROUP_TITLES.get(cls.__name__) or _humanise(cls.__name__),
            cls,
            tuple(_as_binding(b) for b in cls.__dict__["BINDINGS"]),
        )
        for cls in owners
    ]


def all_bindings() -> list[Binding]:
    return [binding for group in binding_groups() for binding in group.bindings]


def binding_ids() -> set[str]:
    return {b.id for b in all_bindings() if b.id}


def current_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys that trigger `binding` now: the keymap's, else the ones in the code."""
    keys = keymap.get(binding.id, "") if binding.id else ""
    return [k.strip() for k in (keys or binding.key).split(",") if k.strip()]


_KEY_WORDS = {"enter": "enter", "escape": "esc", "pageup": "pgup", "pagedown": "pgdn"}


def key_label(key: str) -> str:
    """How a key is written for people: "ctrl+n", "?", "↑", "f1", "esc", "enter"."""
    *modifiers, name = key.split("+")
    return "+".join([*modifiers, _KEY_WORDS.get(name) or format_key(name)])


def check_key_spec(spec: str) -> str | None:
    """Why `spec` ("ctrl+t", "f2,question_mark", "?") is not a usable key list, or None."""
    keys = [part.strip() for part in spec.split(",")]
    if not spec.strip() or not all(keys):
        return "empty key"
    for key in keys:
        if len(key) == 1:
            if not key.isprintable() or key.isspace():
                return f"{key!r} is not a key"
            continue
        *modifiers, name = key.split("+")
        bad = [m for m in modifiers if m not in MODIFIERS]
        if bad:
            return f"unknown modifier {bad[0]!r} in {key!r} (use {', '.join(MODIFIERS)})"
        if not name:
            return f"{key!r} has no key after the modifier"
        if not (len(name) == 1 or _known_key_name(name)):
            return f"unknown key {name!r} in {key!r}"
    return None


def resolve_keymap(keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The usable part of a `[keys]` table, and a warning for each entry that is not."""
    if not keys:
        # Nothing to check, and nothing to import: finding every binding imports every
        # screen and widget (Markdown among them), which start-up otherwise never needs.
        return {}, []
    known = binding_ids()
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
    warnings.extend(_clashes(keymap))
    return keymap, warnings


def apply_keymap(app: App[Any], keys: Mapping[str, str]) -> list[str]:
    """Install the person's `[keys]` on `app`; warnings for what could not be used."""
    keymap, warnings = resolve_keymap(keys)
    app.set_keymap(keymap)
    return warnings


def _clashes(keymap: Mapping[str, str]) -> list[str]:
    """One warning per key that two bindings of the same class now share."""
    warnings: list[str] = []
    for group in binding_groups():
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


def _known_key_name(name: str) -> bool:
    if name in KEY_DISPLAY_ALIASES or name in KEY_TO_UNICODE_NAME:
        return True
    if re.fullmatch(r"f([1-9]|1[0-9]|2[0-4])", name):
        return True
    if name in _named_keys():
        return True
    try:
        character = unicodedata.lookup(name.replace("_", " ").upper())
    except KeyError:
        return name in ("slash", "backslash", "at", "minus", "plus", "underscore")
    return len(character) == 1


def _named_keys() -> set[str]:
    return {key.value.split("+")[-1] for key in Keys if not key.value.startswith("<")}


def _as_binding(binding: BindingType) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def _humanise(name: str) -> str:
    words = re.findall(r"[A-Z][a-z0-9]*", name) or [name]
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def _subclasses(cls: type) -> Iterable[type]:
    seen: dict[type, None] = {}
    pending: list[type] = list(cls.__subclasses__())
    while pending:
        sub = pending.pop(0)
        if sub not in seen:
            seen[sub] = None
            pending.extend(sub.__subclasses__())
    return seen


def _import_all() -> None:
    """Import the app and every screen and widget module, so their classes are known."""
    importlib.import_module("chat_tui.tui.app")
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
