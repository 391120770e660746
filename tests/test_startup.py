"""Start-up neither imports the SDK nor talks to the server; the first key starts the import.
Neither starts a configured MCP server nor imports the MCP SDK.

Run in a fresh interpreter: in the test process other tests have imported `openai` already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import asyncio, json, sys
from chat_tui.tui.app import ChatApp
from chat_tui.config import load_settings
from chat_tui.paths import data_dir
from chat_tui.tui.screens.chat import WARM_UP_DELAY
from chat_tui.store import ConversationStore
from tests.support.loopback import FakeOpenAI
from tests.support.sample_data import seed_sample_conversations
from tests.support.pilot import wait_for


async def main():
    fake = FakeOpenAI().start()
    store = ConversationStore(data_dir())
    seed_sample_conversations(store)
    settings = load_settings(environ={}, cli={"base_url": fake.base_url})
    app = ChatApp(settings, store)
    report = {}
    async with app.run_test(size=(100, 30)) as pilot:
        listing = app.screen.sidebar.conversation_list
        await wait_for(pilot, lambda: len(listing.rows) >= 6, "the seeded conversations")
        await app.workers.wait_for_complete()
        report["listed"] = len(listing.rows)
        report["openai at start"] = "openai" in sys.modules
        report["mcp at start"] = "mcp" in sys.modules
        report["requests at start"] = len(fake.requests)
        await pilot.press("h")
        # The SDK is imported WARM_UP_DELAY seconds after the first key.
        await wait_for(pilot, lambda: "openai" in sys.modules, "the SDK to be imported")
        await app.workers.wait_for_complete()
        report["openai after a key"] = "openai" in sys.modules
        report["mcp after a key"] = "mcp" in sys.modules
        report["requests after a key"] = len(fake.requests)
    fake.stop()
    store.close()
    print(json.dumps(report))


asyncio.run(main())
"""


def test_start_up_imports_no_sdk_and_sends_nothing_until_needed(tmp_path: Path) -> None:
    from chat_tui.paths import config_file
    from tests.support.mcp_server import server_pids, stdio_table

    config = config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch(mode=0o600)
    config.write_text(stdio_table("calc", tmp_path))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "listed": 6,
        "openai at start": False,
        "mcp at start": False,
        "requests at start": 0,
        "openai after a key": True,
        "mcp after a key": False,
        "requests after a key": 0,
    }
    assert server_pids(tmp_path) == []  # the MCP server waits for a reply that offers tools
