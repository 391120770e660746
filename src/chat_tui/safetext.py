"""Text from models, files and people is shown as the text it is, never as instructions.

Rich/Textual markup is never parsed (widgets get `Content` objects, not markup strings), and
control characters are replaced by visible stand-ins before they reach the terminal, so an
escape sequence in a reply cannot move the cursor, set the clipboard (OSC 52), forge a
hyperlink (OSC 8) or ring the bell.
"""

from __future__ import annotations

import re

_REPLACEMENTS: dict[int, str] = {
    code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)
}
_REPLACEMENTS[0x7F] = "\u2421"  # ␡
_REPLACEMENTS.update({code: "\ufffd" for code in range(0x80, 0xA0)})  # C1 controls
_REPLACEMENTS.update(
    {
        # Bidirectional overrides can make text read differently from what it is.
        code: "\ufffd"
        for code in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069)
    }
)
# Lone surrogates (a server splitting an emoji's UTF-16 pair across two JSON frames) cannot be
# written to a UTF-8 terminal: the first one would kill Textual's output thread.
_REPLACEMENTS.update({code: "\ufffd" for code in range(0xD800, 0xE000)})


def display_text(text: str) -> str:
    """`text` with every control character made visible (␛ for ESC, ␀ for NUL, ...).

    Newlines and tabs stay; Windows line endings become plain newlines. Bidirectional
    overrides and lone surrogates become U+FFFD.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_REPLACEMENTS)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs (JSON `\\ud83d\\ude00` decoded piecewise)
    joined into the character they encode, lone surrogates replaced by U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));")


def markdown_text(text: str) -> str:
    """`display_text` for Markdown, which also decodes `&#x202e;`-style references: those
    that would decode to a character `display_text` replaces are replaced the same way."""

    def neutralise(match: re.Match[str]) -> str:
        hexadecimal, decimal = match.groups()
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        if code > 0x10FFFF:
            return match.group()
        character = chr(code)
        replaced = display_text(character)
        return match.group() if replaced == character else replaced

    shown = display_text(text)
    return _CHARACTER_REFERENCE.sub(neutralise, shown) if "&#" in shown else shown


def one_line(text: str, limit: int | None = None) -> str:
    """Displayable text squeezed onto one line, optionally cut to `limit` characters."""
    flat = " ".join(display_text(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)].rstrip() + "…"
    return flat


SHOWN_CHARACTERS = 20_000
"""Plain text longer than this is shown cut (laying out a megabyte stalls the screen)."""


def shortened(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """Displayable `text`, cut after `limit` characters with a note saying how much is left."""
    if len(text) <= limit:
        return display_text(text)
    rest = len(text) - limit
    return display_text(text[:limit]) + f"\n… {rest:,} more characters (all of it was kept)"


_REMOVALS: dict[int, None] = dict.fromkeys(_REPLACEMENTS)


def pasteable_text(text: str) -> str:
    """`text` without control characters, for the clipboard.

    What is copied gets pasted into terminals: an escape sequence in a model's reply (one
    that ends bracketed paste, say) could otherwise turn the rest of the paste into typed
    commands. Newlines and tabs stay; Windows line endings become plain newlines.
    """
    return text.replace("\r\n", "\n").translate(_REMOVALS)


_INLINE_REPLACEMENTS = {**_REPLACEMENTS, 0x09: "\u2409", 0x0A: "\u240a"}  # ␉ ␊


def inline_text(text: str, limit: int) -> str:
    """`text` for quoting in a one-line message, cut to `limit` characters (flags and files
    can be huge): control characters, tabs and newlines too, become their stand-ins, and any
    other invisible character (zero-width, line separators) becomes U+FFFD."""
    cut = len(text) > limit
    shown = text[: max(limit - 1, 0) if cut else limit].translate(_INLINE_REPLACEMENTS)
    shown = "".join(c if c.isprintable() else "\ufffd" for c in shown)
    return shown + "…" if cut else shown
