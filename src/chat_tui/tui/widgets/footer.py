"""Textual's footer, without the keys it drops staying in memory (see `textual_compat`)."""

from __future__ import annotations

from textual.widgets import Footer

from chat_tui.tui.textual_compat import drop_dead_footer_watchers


class ChatFooter(Footer):
    async def recompose(self) -> None:
        # The footer recomposes on every focus change, replacing twenty-odd keys.
        await super().recompose()
        drop_dead_footer_watchers(self)
