"""Key names as the config and the help write them: checking a key list, and labels.

Knows Textual's key names, nothing of chat-tui's screens: cheap to import anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from textual.binding import Binding
from textual.keys import KEY_DISPLAY_ALIASES, KEY_TO_UNICODE_NAME, Keys, format_key

MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")

_KEY_WORDS = {"enter": "enter", "escape": "esc", "pageup": "pgup", "pagedown": "pgdn"}


def current_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys that trigger `binding` now: the keymap's, else the ones in the code."""
    keys = keymap.get(binding.id, "") if binding.id else ""
    return [k.strip() for k in (keys or binding.key).split(",") if k.strip()]


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
