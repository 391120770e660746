"""Start-up neither imports the SDK nor talks to the server; once the first screen is up and
idle, the SDK is imported and its client made in a thread of their own, without a key pressed
and still without a request. Neither starts a configured MCP server nor imports the MCP SDK.

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
import asyncio, json, sys, threading
from chat_tui.tui.app import ChatApp
from chat_tui.config import load_settings
from chat_tui.paths import data_dir
from chat_tui.store import ConversationStore
from tests.support.loopback import FakeOpenAI
from tests.support.sample_data import seed_sample_conversations
from tests.support.pilot import wait_for

first_sdk_import = {}


def note_first_sdk_import(event, args):
    # The audit event of an import statement: one of the SDK's modules is being loaded.
    if event == "import" and str(args[0]).startswith("openai") and not first_sdk_import:
        prompt = app.screen.query_one("#prompt") if app.screen_stack else None
        first_sdk_import["thread"] = threading.current_thread().name
        first_sdk_import["prompt laid out"] = prompt is not None and prompt.region.area > 0
        listing = app.screen.sidebar.conversation_list if prompt is not None else None
        first_sdk_import["conversations listed"] = listing is not None and bool(listing.rows)


def sdk_thread_running():
    return any(thread.name == "openai-sdk" for thread in threading.enumerate())


async def main():
    global app
    fake = FakeOpenAI().start()
    store = ConversationStore(data_dir())
    seed_sample_conversations(store)
    settings = load_settings(environ={}, cli={"base_url": fake.base_url})
    app = ChatApp(settings, store)
    sys.addaudithook(note_first_sdk_import)
    report = {}
    async with app.run_test(size=(100, 30)) as pilot:
        listing = app.screen.sidebar.conversation_list
        await wait_for(pilot, lambda: len(listing.rows) >= 6, "the seeded conversations")
        report["listed"] = len(listing.rows)
        report["mcp at start"] = "mcp" in sys.modules
        # No key is pressed: the first screen being up is enough.
        await wait_for(
            pilot,
            lambda: "openai" in sys.modules and not sdk_thread_running(),
            "the SDK to be imported and its client made",
        )
        await app.workers.wait_for_complete()
        report["first SDK import"] = first_sdk_import
        report["prompt text"] = app.screen.query_one("#prompt").text
        report["mcp after the SDK"] = "mcp" in sys.modules
        report["requests after the SDK"] = len(fake.requests)
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
        "mcp at start": False,
        # Begun once the first screen was laid out and the conversations listed, in the
        # thread `ChatClient.prepare` starts.
        "first SDK import": {
            "thread": "openai-sdk",
            "prompt laid out": True,
            "conversations listed": True,
        },
        "prompt text": "",
        "mcp after the SDK": False,
        "requests after the SDK": 0,
    }
    assert server_pids(tmp_path) == []  # the MCP server waits for a reply that offers tools


HELD_SCRIPT = """
import asyncio, json, sys, threading
from chat_tui.tui.app import ChatApp
from chat_tui.config import load_settings
from chat_tui.paths import data_dir
from chat_tui.store import ConversationStore
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import wait_for


def sdk_started():
    return "openai" in sys.modules or any(t.name == "openai-sdk" for t in threading.enumerate())


async def main():
    fake = FakeOpenAI().start()
    store = ConversationStore(data_dir())
    settings = load_settings(environ={}, cli={"base_url": fake.base_url})
    app = ChatApp(settings, store)
    report = {}
    store.root.mkdir(parents=True, exist_ok=True)
    store._index._syncing.acquire()  # the first listing waits, as on a slow disk
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = lambda: app.screen.query_one("#prompt").region.area > 0
        await wait_for(pilot, prompt, "the first screen")
        for _ in range(5):
            await pilot.pause()
        report["SDK before the listing"] = sdk_started()
        store._index._syncing.release()
        await wait_for(pilot, sdk_started, "the SDK import once listed")
        report["SDK after the listing"] = True
    fake.stop()
    store.close()
    print(json.dumps(report))


asyncio.run(main())
"""


def test_the_sdk_import_waits_for_the_first_listing() -> None:
    """The sidebar's thread reads every file's metadata, giving up the interpreter at each
    call; beside the import it would wait for it back each time."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", HELD_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"SDK before the listing": False, "SDK after the listing": True}
