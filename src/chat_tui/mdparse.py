"""The Markdown parser for replies: text nested too deep is shown plain, never dropped.

markdown-it follows block quotes and lists inside each other only down to `maxNesting`
levels (20); past that it skips the rest of the enclosing block without a word, and a list
takes everything after it along. A model (or a prompt injection) writing thirty `> ` would
make that text vanish from the screen. Here a quote or list that would go past the limit is
not opened: its lines are shown as they are written, markers and all, one line per line.

The limit used is lower than markdown-it's: every level of a quote or list takes columns
from the text inside it, and twenty of them leave a column or two to read in.
"""

from __future__ import annotations

import functools

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock, blockquote, list_block
from markdown_it.token import Token

DEEPEST_LEVEL = 12
"""Nesting levels shown as Markdown: ten quotes, or five lists, inside each other."""
CONTAINER_LEVELS = 2
"""Nesting levels one more container adds before its content: a list, then its item."""
SHOWN_BLOCKS = frozenset(
    {
        "heading_open",
        "paragraph_open",
        "blockquote_open",
        "bullet_list_open",
        "ordered_list_open",
        "table_open",
        "hr",
        "fence",
        "code_block",
    }
)
"""Top-level tokens Textual's Markdown shows as one block each (it drops the others)."""


def reply_parser() -> MarkdownIt:
    """The parser Textual's Markdown uses by default ("gfm-like"), with the depth rule."""
    parser = MarkdownIt("gfm-like")
    parser.block.ruler.before("table", "too_deep", _too_deep_as_text)
    return parser


def top_level_blocks(text: str) -> list[tuple[str, tuple[int, int]]] | None:
    """The kind and line range of each top-level block of `text`, as one parse of it all
    makes them; None if the text has a part whose reading depends on the rest.

    Parsing from the start of any top-level block reads it as parsing the whole text does,
    except where a link reference definition turns a `[label]` before it into a link (and
    for kinds of block the Markdown widget does not show): a stream that drew its text in
    pieces shows what one parse would when its blocks are these.
    """
    env: dict[str, object] = {}
    blocks = []
    for token in _parser().parse(text, env):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        if token.type not in SHOWN_BLOCKS:
            return None
        blocks.append((token.type, (token.map[0], token.map[1])))
    return None if env.get("references") else blocks


@functools.cache
def _parser() -> MarkdownIt:
    """One parser for `top_level_blocks`, which runs on the event loop only."""
    return reply_parser()


def _too_deep_as_text(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A quote or list starting where its content would pass the depth limit becomes a
    paragraph of its lines as written (up to a blank line or a line indented less)."""
    limit = min(DEEPEST_LEVEL, state.md.options.maxNesting)
    if state.level + CONTAINER_LEVELS < limit:
        return False
    if not (blockquote(state, start, end, True) or list_block(state, start, end, True)):
        return False
    if silent:
        return True
    line = start + 1
    while line < end and not state.isEmpty(line) and state.sCount[line] >= state.blkIndent:
        line += 1
    lines = state.getLines(start, line, state.blkIndent, False).split("\n")
    children: list[Token] = []
    for number, text in enumerate(lines):
        if number:
            children.append(Token("hardbreak", "br", 0))
        children.append(Token("text", "", 0, content=text.strip()))
    opening = state.push("paragraph_open", "p", 1)
    opening.map = [start, line]
    inline = state.push("inline", "", 0)
    inline.map = [start, line]
    inline.children = children  # no content: the inline parser leaves these as they are
    state.push("paragraph_close", "p", -1)
    state.line = line
    return True
