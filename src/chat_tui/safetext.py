"""Text from models, files and people is shown as the text it is, never as instructions.

Rich/Textual markup is never parsed (widgets get `Content` objects, not markup strings), and
control characters are replaced by visible stand-ins before they reach the terminal, so an
escape sequence in a reply cannot move the cursor, set the clipboard (OSC 52), forge a
hyperlink (OSC 8) or ring the bell.
"""

from __future__ import annotations

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


def display_text(text: str) -> str:
    """`text` with every control character made visible (␛ for ESC, ␀ for NUL, ...).

    Newlines and tabs stay; Windows line endings become plain newlines.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_REPLACEMENTS)


def one_line(text: str, limit: int | None = None) -> str:
    """Displayable text squeezed onto one line, optionally cut to `limit` characters."""
    flat = " ".join(display_text(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)].rstrip() + "…"
    return flat
