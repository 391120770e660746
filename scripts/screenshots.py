"""Render the README's pictures from the real app talking to the loopback fake server.

    python scripts/screenshots.py            # writes screenshots/*.svg

Every picture uses the sample conversations of tests/sample_data.py, a fixed clock for the
sidebar and a fixed terminal size; only the times of messages sent during a scene vary.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat_tui.app import ChatApp  # noqa: E402
from chat_tui.config import load_settings  # noqa: E402
from chat_tui.store import ConversationStore  # noqa: E402
from chat_tui.widgets.prompt_input import PromptInput  # noqa: E402
from tests.conftest import FIXED_NOW  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.helpers import workers_done  # noqa: E402
from tests.sample_data import PYTHON_REPLY, seed  # noqa: E402

OUTPUT = ROOT / "screenshots"
SIZE = (120, 36)

Scene = Callable[[ChatApp, object, FakeOpenAI], Awaitable[None]]


async def _quiet(pilot) -> None:
    await pilot.pause()
    await workers_done(pilot.app)
    pilot.app.query_one(PromptInput).cursor_blink = False
    await pilot.pause()


async def streaming(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """A reply arriving: sent flat out until half of it is there, then held."""
    await _quiet(pilot)
    await pilot.press("ctrl+n")
    half = len(PYTHON_REPLY) // 2
    fake.add_text(PYTHON_REPLY[:half], chunk=8, fault="hang", fault_after=half // 8)
    for key in "How do I retry a flaky network call in Python, with backoff?":
        await pilot.press(key if key != " " else "space")
    await pilot.press("enter")
    while fake.chunks_sent < half // 8:
        await pilot.pause(0.05)
    await pilot.pause(0.5)
    app.query_one(PromptInput).cursor_blink = False
    await pilot.pause()


async def conversation(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """A finished answer with code, a table and the usage line."""
    await _quiet(pilot)


async def help_screen(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """F1: every key binding, generated from the bindings themselves."""
    await _quiet(pilot)
    await pilot.press("f1")
    await pilot.pause()


SCENES: dict[str, tuple[Scene, bool]] = {
    "chat": (conversation, True),
    "streaming": (streaming, False),
    "help": (help_screen, True),
}
"""File name -> (scene, open the sample conversation first)."""


async def render(name: str, scene: Scene, open_main: bool) -> Path:
    with tempfile.TemporaryDirectory() as home:
        os.environ["XDG_DATA_HOME"] = f"{home}/data"
        os.environ["XDG_CONFIG_HOME"] = f"{home}/config"
        fake = FakeOpenAI().start()
        try:
            settings = load_settings(environ={}, cli={"base_url": fake.base_url})
            store = ConversationStore(Path(home) / "data" / "chat-tui")
            main = seed(store)
            app = ChatApp(
                settings,
                store,
                clock=lambda: FIXED_NOW,
                open_conversation=main.id if open_main else None,
            )
            async with app.run_test(size=SIZE) as pilot:
                await scene(app, pilot, fake)
                path = OUTPUT / f"{name}.svg"
                app.save_screenshot(str(path))
                fake.release.set()
        finally:
            fake.stop()
            store.close()
    return path


async def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    for name, (scene, open_main) in SCENES.items():
        path = await render(name, scene, open_main)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
