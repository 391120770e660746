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

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock, blockquote, list_block
from markdown_it.token import Token

DEEPEST_LEVEL = 12
"""Nesting levels shown as Markdown: ten quotes, or five lists, inside each other."""
CONTAINER_LEVELS = 2
"""Nesting levels one more container adds before its content: a list, then its item."""


def reply_parser() -> MarkdownIt:
    """The parser Textual's Markdown uses by default ("gfm-like"), with the depth rule."""
    parser = MarkdownIt("gfm-like")
    parser.block.ruler.before("table", "too_deep", _too_deep_as_text)
    return parser


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
