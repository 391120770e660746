"""Snapshot tests guard the look of the main screens (review the report before updating)."""

from __future__ import annotations

from pathlib import Path

from chat_tui.app import ChatApp
from chat_tui.config import Settings
from chat_tui.store import ConversationStore
from chat_tui.widgets.prompt_input import PromptInput
from tests.conftest import FIXED_NOW
from tests.sample_data import seed

SIZE = (110, 34)


def build_app(settings: Settings, data_dir: Path, *, open_main: bool = True) -> ChatApp:
    store = ConversationStore(data_dir)
    main = seed(store)
    return ChatApp(
        settings,
        store,
        clock=lambda: FIXED_NOW,
        open_conversation=main.id if open_main else None,
    )


async def settle(pilot) -> None:
    """Let workers finish and stop the cursor blinking, so pictures are stable."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.query_one(PromptInput).cursor_blink = False
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_main_screen_with_a_conversation(snap_compare, settings: Settings, data_dir: Path) -> None:
    assert snap_compare(build_app(settings, data_dir), terminal_size=SIZE, run_before=settle)


def test_new_conversation_screen(snap_compare, settings: Settings, data_dir: Path) -> None:
    app = build_app(settings, data_dir, open_main=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
