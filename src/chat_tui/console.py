"""Writing to the shell: model text on stdout made harmless, one-line errors on stderr.

Everything a model or a file wrote goes through `display_text` on its way to the terminal, so
an escape sequence in a reply is shown, never obeyed.
"""

from __future__ import annotations

import sys
from typing import TextIO

from chat_tui.safetext import display_text, one_line

PREFIX = "chat-tui: "

EXIT_OK = 0
EXIT_FAILURE = 1
"""Something could not be done: a server error, an unknown id, an unreadable file."""
EXIT_USAGE = 2
"""The command line (or the config file) is wrong."""
EXIT_INTERRUPTED = 130
"""What shells report for a program stopped by ctrl+C (128 + SIGINT)."""


def error(message: str) -> None:
    """One line on stderr, prefixed like every shell tool names itself.

    Messages often quote a server or a file, so they are made harmless like any other text.
    """
    print(PREFIX + one_line(message), file=sys.stderr, flush=True)


class StreamPrinter:
    """Writes a reply as it streams, flushing each piece so it shows at once.

    A carriage return at the end of one piece is held back until the next: it may be the
    first half of a Windows line ending, which `display_text` turns into a plain newline.
    """

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._held = ""
        self._last = "\n"

    def write(self, text: str) -> None:
        text = self._held + text
        self._held = "\r" if text.endswith("\r") else ""
        if self._held:
            text = text[:-1]
        if text:
            self.out.write(display_text(text))
            self.out.flush()
            self._last = text[-1]

    def end_line(self) -> None:
        """Finish the reply on a line of its own (what was held back is written too)."""
        tail = display_text(self._held)
        if tail or self._last != "\n":
            tail += "\n"
        self.out.write(tail)
        self._held = ""
        self.out.flush()
        self._last = "\n"
