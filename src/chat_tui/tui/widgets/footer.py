"""Textual's footer, without the keys it drops staying in memory.

Each `FooterKey` is bound to the footer's `compact` with `data_bind`, which leaves a
watcher on the footer; watchers of removed widgets are pruned only when the watched value
changes, and `compact` never does (Textualize/textual#6666). The footer recomposes on
every focus change, so every focus change kept twenty-odd dead keys: the largest part of
the memory that switching conversations used to grow by.
"""

from __future__ import annotations

from textual.widgets import Footer


class ChatFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        # Running the watchers of `compact` drops those of the keys just removed.
        self.mutate_reactive(Footer.compact)
