"""Render the pictures of the README and docs/ from the real app and the loopback server.

    python scripts/screenshots.py            # writes screenshots/*.svg
    python scripts/screenshots.py tools      # only the scenes named

Every picture uses the sample conversations and the fixed clock of
tests/support/sample_data.py, and a fixed terminal size; only the times of messages sent
during a scene vary.
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

from textual.widgets import Select  # noqa: E402

from chat_tui.config import load_settings  # noqa: E402
from chat_tui.store import ConversationStore  # noqa: E402
from chat_tui.tui.app import ChatApp  # noqa: E402
from chat_tui.tui.widgets.prompt_input import PromptInput  # noqa: E402
from tests.support.loopback import Call, FakeOpenAI  # noqa: E402
from tests.support.mcp_server import stdio_table  # noqa: E402
from tests.support.pilot import type_text, workers_done  # noqa: E402
from tests.support.sample_data import (  # noqa: E402
    FIXED_NOW,
    PYTHON_REPLY,
    attachments_conversation,
    seed_conversation,
    seed_sample_conversations,
)

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
    await type_text(pilot, "How do I retry a flaky network call in Python, with backoff?")
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


async def search(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """The sidebar filtered by words found in the text of the messages."""
    await _quiet(pilot)
    await pilot.press("ctrl+f", *"happy help")
    await _quiet(pilot)
    app.query_one("#search").cursor_blink = False
    await pilot.pause()


async def palette(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """ctrl+p: every action as "noun: verb"."""
    await _quiet(pilot)
    await pilot.press("ctrl+p", *"conv")
    await pilot.pause(0.5)


async def error(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """A connection cut in the middle of a reply: the partial text stays, the fix is said."""
    await _quiet(pilot)
    await pilot.press("ctrl+n")
    fake.add_text(PYTHON_REPLY[:420], chunk=12, fault="drop", fault_after=420 // 12)
    await type_text(pilot, "Show me a retry helper")
    await pilot.press("enter")
    await _quiet(pilot)
    await pilot.pause(0.3)


async def models(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """ctrl+o: the models the server lists, and the system prompt."""
    fake.models = ["gpt-4o", "gpt-4o-mini", "o3-mini", "llama-3.1-8b-instruct"]
    await _quiet(pilot)
    await pilot.press("ctrl+o")
    await _quiet(pilot)
    for box in app.screen.query("Input, TextArea"):
        box.cursor_blink = False
    await pilot.pause()


PRESETS = """
temperature = 0.7

[presets.terse]
system_prompt = "Answer in one or two sentences."
temperature = 0.3
max_tokens = 300

[presets.coder]
provider = "local"
model = "qwen2.5-coder-7b"
system_prompt = "You are a careful Python reviewer. Point out bugs first."
temperature = 0.1
max_tokens = 2000
seed = 42
extra_body = { top_k = 20 }
"""
"""The presets of the settings scene, as a person would write them in config.toml."""


async def presets(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """ctrl+o with a preset chosen: its model, system prompt and settings filled in."""
    fake.models = ["qwen2.5-coder-7b", "llama-3.1-8b-instruct"]
    await _quiet(pilot)
    await pilot.press("ctrl+o")
    await _quiet(pilot)
    app.screen.query_one("#preset", Select).value = "coder"
    await _quiet(pilot)
    for box in app.screen.query("Input, TextArea"):
        box.cursor_blink = False
    await pilot.pause()


async def tools(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """A tool call from an MCP server, waiting for the person's answer."""
    await _quiet(pilot)
    await pilot.press("ctrl+n")
    fake.add_calls(Call("add", {"a": 1234, "b": 5678}), text="Let me add those.")
    await type_text(pilot, "What is 1234 + 5678?")
    await pilot.press("enter")
    bar = app.screen.query_one("ApprovalBar")
    while not bar.armed:  # type: ignore[attr-defined]
        await pilot.pause(0.05)
    app.query_one(PromptInput).cursor_blink = False
    await pilot.pause()


TRIP = [
    "We are planning two weeks in Japan in April: Tokyo, Kyoto and somewhere with hot "
    "springs. Where should we start?",
    "Start in Tokyo: fly into Haneda, which is closer to the city than Narita, and spend four "
    "nights in Shinjuku or Asakusa. Shinjuku is the easier base for day trips; Asakusa is "
    "quieter, older and cheaper. Then take the Shinkansen to Kyoto (two hours and fifteen "
    "minutes). Cherry blossoms peak in the first week of April, when rooms in Kyoto sell "
    "out months ahead, so book them now and keep the bookings you can cancel.",
    "Which onsen town is easy to reach from Kyoto?",
    "Kinosaki Onsen: two and a half hours by the Kinosaki limited express, no changes. It is "
    "a small town along a willow-lined canal with seven public baths; the ryokan lend you a "
    "yukata and wooden sandals to walk between them, and your room key opens them all. One "
    "night is enough, two if you want to slow down. Alternatives: Arima (one hour, but "
    "busier) or Hakone, better combined with Tokyo.",
    "How much should we budget per day?",
    "About 25,000 yen each for mid-range hotels, trains and food. Business hotels cost "
    "12,000 to 20,000 yen a night for two; lunch sets are 1,000 to 1,500 yen and dinner in "
    "an izakaya 3,000 to 5,000. Ryokan nights cost more, 30,000 to 60,000 yen each, but "
    "include a long dinner and breakfast. Temples charge 500 to 1,000 yen to enter.",
    "Is the Japan Rail Pass still worth it?",
    "Since its price rose in October 2023, rarely for a route like yours. Tokyo to Kyoto "
    "and back, plus Kinosaki, adds up to less than the seven-day pass. Buy single "
    "Shinkansen tickets (online or at the station), and put a Suica or ICOCA card in your "
    "phone for city trains, buses and convenience stores.",
    "What should we see in Kyoto in three days?",
    "Day one: Fushimi Inari at dawn before the crowds, then Tofuku-ji and the Higashiyama "
    "walk from Kiyomizu-dera down to Gion for the evening. Day two: Arashiyama's bamboo "
    "grove early, Tenryu-ji's garden, the monkey park, and the Philosopher's Path on the "
    "way back. Day three: the deer park and Todai-ji in Nara, forty minutes away.",
]
"""A conversation longer than the small window of the context scene."""


async def context(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """A conversation past the model's context: the newest messages sent, the mark where
    they begin, and how full the context is in the status line."""
    when = "2026-11-25T09:30:00.000+00:00"
    conversation = seed_conversation(app.store, "20261125-093000-c0ffee", *TRIP, when=when)
    await _quiet(pilot)
    await app.screen.open_conversation(conversation.id)  # type: ignore[attr-defined]
    fake.add_text(
        "Take the Thunderbird from Kyoto to Tsuruga, then the Hokuriku Shinkansen: about "
        "two hours to Kanazawa. Stay near the Higashi Chaya district.",
        usage={"prompt_tokens": 431, "completion_tokens": 35},
    )
    await type_text(pilot, "And from there, how do we get to Kanazawa?")
    await pilot.press("enter")
    await _quiet(pilot)
    await pilot.pause(0.3)
    app.screen.query_one(".context-mark").scroll_visible(top=True, animate=False)
    await pilot.pause(0.3)
    app.query_one(PromptInput).cursor_blink = False
    await pilot.pause(0.3)


async def attachments(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """A log and a screenshot sent with a question, and a file attached to the next one."""
    opened = attachments_conversation(app.store)
    await _quiet(pilot)
    await app.screen.open_conversation(opened.id)  # type: ignore[attr-defined]
    app.screen.refresh_sidebar()  # type: ignore[attr-defined]
    folder = Path(os.environ["XDG_DATA_HOME"]).parent
    (folder / "df-after-cleanup.txt").write_text(
        "Filesystem  Size  Used Avail Use% Mounted on\n/dev/sdb1    20G  4.2G   15G  22% /var\n"
    )
    await pilot.press("ctrl+t", *str(folder / "df-after-cleanup.txt"), "enter")
    while not app.screen.query(".attachment-chip"):
        await pilot.pause(0.05)
    await type_text(pilot, "It works now: is this enough room?")
    await _quiet(pilot)


async def light(app: ChatApp, pilot, fake: FakeOpenAI) -> None:
    """The same conversation in a light theme."""
    app.theme = "textual-light"
    await _quiet(pilot)


SCENES: dict[str, tuple[Scene, bool]] = {
    "chat": (conversation, True),
    "streaming": (streaming, False),
    "search": (search, True),
    "help": (help_screen, True),
    "palette": (palette, True),
    "models": (models, True),
    "settings": (presets, True),
    "error": (error, True),
    "tools": (tools, True),
    "attachments": (attachments, False),
    "light": (light, True),
    "context": (context, False),
}
"""File name -> (scene, open the sample conversation first)."""


async def render(name: str, scene: Scene, open_main: bool) -> Path:
    with tempfile.TemporaryDirectory() as home:
        os.environ["XDG_DATA_HOME"] = f"{home}/data"
        os.environ["XDG_CONFIG_HOME"] = f"{home}/config"
        fake = FakeOpenAI().start()
        try:
            # A named provider, so messages say "local" rather than a random port.
            config = Path(home) / "config.toml"
            config.touch(mode=0o600)  # private, as chat-tui writes it: no warning in the picture
            config.write_text(
                f'provider = "local"\n[providers.local]\nbase_url = "{fake.base_url}"\n'
            )
            if scene is context:  # a small window, so a short conversation outgrows it
                with config.open("a") as file:
                    file.write('[models."gpt-4o-mini"]\ncontext_window = 640\n')
            if scene is presets:
                with config.open("a") as file:
                    file.write(PRESETS)
            if scene is tools:  # the test MCP server, as a person would configure one
                (Path(home) / "mcp").mkdir()
                with config.open("a") as file:
                    file.write(stdio_table("calc", Path(home) / "mcp"))
            settings = load_settings(environ={}, config_path=config)
            store = ConversationStore(Path(home) / "data" / "chat-tui")
            main = seed_sample_conversations(store)
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


async def main(names: list[str]) -> None:
    OUTPUT.mkdir(exist_ok=True)
    unknown = sorted(set(names) - set(SCENES))
    if unknown:
        raise SystemExit(f"unknown scene {unknown[0]!r}; the scenes: {', '.join(SCENES)}")
    for name, (scene, open_main) in SCENES.items():
        if names and name not in names:
            continue
        path = await render(name, scene, open_main)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
