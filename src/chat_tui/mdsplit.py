"""Cut long Markdown into chunks at block boundaries, so each chunk renders on its own.

One Markdown widget with thousands of blocks gets slower than linearly; several widgets of a
few thousand characters each stay linear. Streaming and re-rendering use the same rule, so a
reply shown while it streams splits exactly as it does when the conversation is reopened.
"""

from __future__ import annotations

from itertools import pairwise

CHUNK_CHARS = 3000
_FENCES = ("```", "~~~")


def next_boundary(text: str, start: int, minimum_end: int) -> int | None:
    """Offset of the first safe cut at or after `minimum_end`, scanning from `start`.

    A safe cut follows a blank line outside any code fence and precedes a line that starts
    at column 0 (so list continuations and indented code stay with their block). The cut
    must have text after it: a trailing blank line may still grow into something else.
    """
    fence: str | None = None
    position = start
    previous_blank = False
    length = len(text)
    while position < length:
        end = text.find("\n", position)
        if end == -1:
            end = length  # the last line may be incomplete: its first character decides
        line = text[position:end]
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if (
            fence is None
            and previous_blank
            and position >= minimum_end
            and line
            and not line[0].isspace()
        ):
            return position
        if indent <= 3 and stripped.startswith(_FENCES):
            marker = stripped[:3]
            if fence is None:
                fence = marker
            elif marker == fence and not stripped.strip("`~ "):
                fence = None
        previous_blank = fence is None and not line.strip()
        position = end + 1
    return None


def cuts_after(text: str, start: int = 0, size: int = CHUNK_CHARS) -> list[int]:
    """The offsets where `text` is cut into chunks, from `start` on (none: one chunk)."""
    cuts: list[int] = []
    while (cut := next_boundary(text, start, start + size)) is not None:
        cuts.append(cut)
        start = cut
    return cuts


def split_markdown(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """`text` as consecutive chunks of at least `size` characters (the last may be shorter)."""
    edges = [0, *cuts_after(text, 0, size), len(text)]
    return [text[a:b] for a, b in pairwise(edges)]
