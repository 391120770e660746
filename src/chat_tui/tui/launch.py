"""Start the full-screen app: Textual imported at chat-tui's screen update rate, then run.

This module imports nothing from Textual at import time: the update rate is read by
Textual once, when it is first imported, so it must be set before.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chat_tui.config import Settings
    from chat_tui.store import ConversationStore

SCREEN_UPDATES_PER_SECOND = 120
"""Textual's cap on screen updates (its `TEXTUAL_FPS`, 60 unless set), for this app.

A change reaches the screen at the next update slot, and one slot later when the last
update overran: at 60 a key typed just after a streaming frame waits for the next slot
while the event loop is idle. Updates happen only when something changed, so an idle
screen costs nothing more (docs/performance.md has the figures).
"""


def import_textual() -> None:
    """Import Textual with our update rate, unless the person set `TEXTUAL_FPS` themselves.

    Textual reads it once, at import; it is not left in the environment for programs the
    app starts.
    """
    if "TEXTUAL_FPS" in os.environ or "textual" in sys.modules:
        return
    os.environ["TEXTUAL_FPS"] = str(SCREEN_UPDATES_PER_SECOND)
    try:
        import textual.constants  # noqa: F401
    finally:
        del os.environ["TEXTUAL_FPS"]


def run_app(settings: Settings, store: ConversationStore, *, open_conversation: str | None) -> int:
    """Run the app until it quits; its exit status."""
    import_textual()
    from chat_tui.collector import before_exit
    from chat_tui.tui.app import ChatApp

    app = ChatApp(settings, store, open_conversation=open_conversation)
    app.run()
    before_exit()
    return app.return_code or 0
