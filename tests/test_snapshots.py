"""Snapshot tests guard the look of the main screens (review the report before updating)."""

from __future__ import annotations

from pathlib import Path

from chat_tui.config import Settings
from chat_tui.store import ConversationStore
from chat_tui.tui.app import ChatApp
from tests.support.pilot import workers_done
from tests.support.sample_data import FIXED_NOW, seed_sample_conversations

SIZE = (110, 34)


def build_app(settings: Settings, data_dir: Path, *, open_main: bool = True) -> ChatApp:
    store = ConversationStore(data_dir)
    main = seed_sample_conversations(store)
    return ChatApp(
        settings,
        store,
        clock=lambda: FIXED_NOW,
        open_conversation=main.id if open_main else None,
    )


async def settle_for_snapshot(pilot) -> None:
    """Let workers finish and stop the cursor blinking, so pictures are stable."""
    await pilot.pause()
    await workers_done(pilot.app)
    await pilot.pause()
    for text_box in pilot.app.screen.query("Input, TextArea"):
        text_box.cursor_blink = False
    await workers_done(pilot.app)
    await pilot.pause()


def test_main_screen_with_a_conversation(snap_compare, settings: Settings, data_dir: Path) -> None:
    assert snap_compare(
        build_app(settings, data_dir), terminal_size=SIZE, run_before=settle_for_snapshot
    )


def test_new_conversation_screen(snap_compare, settings: Settings, data_dir: Path) -> None:
    app = build_app(settings, data_dir, open_main=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle_for_snapshot)


def press_then_settle(*keys: str):
    """A run_before that presses `keys` and waits for the app to finish reacting."""

    async def run_before(pilot) -> None:
        await settle_for_snapshot(pilot)
        for key in keys:
            await pilot.press(key)
            await settle_for_snapshot(pilot)

    return run_before


def test_sidebar_filtered_by_message_text(snap_compare, settings: Settings, data_dir: Path) -> None:
    app = build_app(settings, data_dir)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_then_settle("ctrl+f", *"jitter"))


def test_rename_dialog(snap_compare, settings: Settings, data_dir: Path) -> None:
    app = build_app(settings, data_dir)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_then_settle("f2"))


def test_delete_dialog(snap_compare, settings: Settings, data_dir: Path) -> None:
    app = build_app(settings, data_dir)
    keys = ("ctrl+f", "down", "down", "delete")
    assert snap_compare(app, terminal_size=SIZE, run_before=press_then_settle(*keys))


def test_model_picker(snap_compare, fake, settings: Settings, data_dir: Path) -> None:
    fake.models = ["gpt-4o", "gpt-4o-mini", "o3-mini", "local-llama"]
    app = build_app(settings, data_dir)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_then_settle("ctrl+o"))


def test_small_terminal(snap_compare, settings: Settings, data_dir: Path) -> None:
    assert snap_compare(
        build_app(settings, data_dir), terminal_size=(80, 24), run_before=settle_for_snapshot
    )


def test_help_screen(snap_compare, settings: Settings, data_dir: Path) -> None:
    async def open_help(pilot) -> None:
        await settle_for_snapshot(pilot)
        await pilot.press("f1")
        await pilot.pause()

    app = build_app(settings, data_dir)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)


def test_help_screen_palette_commands(snap_compare, settings: Settings, data_dir: Path) -> None:
    async def open_help_at_the_end(pilot) -> None:
        await settle_for_snapshot(pilot)
        await pilot.press("f1")
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause()

    app = build_app(settings, data_dir)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_help_at_the_end)


def test_a_tool_call_waiting_for_approval(
    snap_compare, fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """The call in the log with its arguments, and the question above the message box."""
    from datetime import datetime

    from chat_tui import models
    from tests.support.loopback import Call
    from tests.support.mcp_server import stdio_table
    from tests.support.pilot import eventually, settings_with_private_config, type_text

    class FixedClock(datetime):
        """Messages sent during the test are stamped with the fixed time of the sidebar."""

        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return FIXED_NOW

    monkeypatch.setattr(models, "datetime", FixedClock)
    folder = tmp_path / "mcp"
    folder.mkdir()
    settings = settings_with_private_config(fake.base_url, stdio_table("calc", folder))
    fake.add_calls(Call("add", {"a": 1234, "b": 5678}), text="Let me add those.")

    async def ask(pilot) -> None:
        await settle_for_snapshot(pilot)
        await type_text(pilot, "What is 1234 + 5678?")
        await pilot.press("enter")
        bar = pilot.app.screen.query_one("ApprovalBar")
        assert await eventually(pilot, lambda: bar.armed, 30)
        for text_box in pilot.app.screen.query("Input, TextArea"):
            text_box.cursor_blink = False
        await pilot.pause()

    app = build_app(settings, data_dir, open_main=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=ask)


def test_attach_dialog(snap_compare, settings: Settings, data_dir: Path, tmp_path, monkeypatch):
    """The path box after two Tabs (completed, then the choices listed) beside the tree."""
    folder = tmp_path / "project"
    (folder / "logs").mkdir(parents=True)
    (folder / "server.log").write_text("ready\n")
    (folder / "server.log.1").write_text("older\n")
    (folder / "notes.md").write_text("# notes\n")
    monkeypatch.chdir(folder)

    async def complete_twice(pilot) -> None:
        from tests.support.pilot import wait_for

        # (Not `settle_for_snapshot` once the dialog is open: the tree's loader never ends.)
        await settle_for_snapshot(pilot)
        await pilot.press("ctrl+t", "s", "e", "tab")
        box = pilot.app.screen.query_one("#attach-path")
        await wait_for(pilot, lambda: box.value == "server.log", "the completion")
        await pilot.press("tab")
        choices = pilot.app.screen.query_one("#attach-choices")
        tree = pilot.app.screen.query_one("#attach-tree")
        await wait_for(pilot, lambda: choices.display and tree.last_line == 3, "the choices")
        box.cursor_blink = False
        await pilot.pause()

    app = build_app(settings, data_dir)
    assert snap_compare(app, terminal_size=SIZE, run_before=complete_twice)


def test_a_message_with_attachments(snap_compare, settings: Settings, data_dir: Path) -> None:
    """The chips of a sent log and screenshot under the prompt they went with."""
    from tests.support.sample_data import attachments_conversation

    store = ConversationStore(data_dir)
    seed_sample_conversations(store)
    opened = attachments_conversation(store)
    app = ChatApp(settings, store, clock=lambda: FIXED_NOW, open_conversation=opened.id)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle_for_snapshot)
