"""Cold start: launch to a usable prompt, in a real pseudo-terminal, as a fresh process.

"Usable" means the input box's placeholder is painted, a key typed into it is echoed, and
the sidebar shows the newest conversation (or "No conversations yet"). Compared:

- the bare Textual app of `bare_app.py` (same widget kinds and stylesheet, nothing else);
- chat-tui on an empty data directory;
- chat-tui on a data directory of many conversations whose index is up to date.

Launches are interleaved (bare, empty, big, bare, ...) so a noisy neighbour hurts all three
alike. A separate instrumented launch checks that the `openai` import does not begin before
the first paint (it begins once the first screen is idle) and that start-up opens no
connection. The first build of the big store's index and its size are measured in-process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness import (
    PROMPT_PLACEHOLDER,
    PYTHON,
    Figure,
    Scale,
    app_env,
    chat_tui_argv,
    data_root,
    median,
    open_terminal,
)
from workloads import big_store, indexed_store, store_title

from chat_tui.store import ConversationStore

GROUP = "Cold start"
SETTLE_SECONDS = 1.5
ECHO = "zqxj"


def _launch(argv: list[str], home: Path, sidebar_text: str) -> dict[str, float]:
    with open_terminal(argv, app_env(home)) as terminal:
        painted = terminal.wait_for(PROMPT_PLACEHOLDER, after=0)
        mark = terminal.mark()
        terminal.type(ECHO)
        echoed = terminal.wait_for(ECHO, after=mark)
        listed = terminal.wait_for(sidebar_text, after=0)
        ready = max(echoed, listed)
        rss = terminal.rss_mb()
        time.sleep(max(0.0, ready + SETTLE_SECONDS - time.monotonic()))
        settled_rss = terminal.rss_mb()
        terminal.quit()
    return {
        "painted": painted - terminal.started,
        "ready": ready - terminal.started,
        "rss": rss,
        "settled_rss": settled_rss,
    }


def _index_figures(root: Path) -> tuple[float, float]:
    """Seconds to check an up-to-date index and list the sidebar; the index's size in MB."""
    store = ConversationStore(root)
    started = time.perf_counter()
    store.refresh()
    store.summaries()
    checked = time.perf_counter() - started
    store.close()
    size = sum(p.stat().st_size for p in root.glob("index.sqlite3*"))
    return checked, size / 1e6


def _startup_is_quiet(home: Path, fake, sidebar_text: str) -> tuple[bool, int, str]:
    """Launch, wait until ready and a little more, quit: did the `openai` import begin before
    the first paint, was there any connection?"""
    probe = home / "probe.json"
    requests_before = len(fake.requests)
    argv = chat_tui_argv("--base-url", fake.base_url, instrumented=True)
    with open_terminal(argv, app_env(home, CHAT_TUI_BENCH_PROBE=str(probe))) as terminal:
        painted = terminal.wait_for(PROMPT_PLACEHOLDER, after=0)
        terminal.wait_for(sidebar_text, after=0)
        time.sleep(2.0)
        terminal.quit()
    record = json.loads(probe.read_text())
    connects = len(record["connects"]) + len(fake.requests) - requests_before
    began = next((at for at, _, name in record["imports"] if name.startswith("openai")), None)
    when = "never" if began is None else f"{(began - painted) * 1000:+.0f} ms after the first paint"
    return began is None or began > painted, connects, when


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    conversations, messages = scale.conversations, scale.messages_per_conversation
    empty_home = home_of("start-empty")
    big_home, built = indexed_store(cache, conversations, messages, home_of)
    source = big_store(cache, conversations, messages)
    checked, size = _index_figures(data_root(big_home))
    newest = store_title(conversations - 1)[:20]

    chat_tui = chat_tui_argv("--base-url", fake.base_url, "--model", "gpt-4o-mini")
    bare = [PYTHON, str(Path(__file__).with_name("bare_app.py"))]
    launches: dict[str, list[dict[str, float]]] = {"bare": [], "empty": [], "big": []}
    for _ in range(scale.runs):
        launches["bare"].append(_launch(bare, home_of("start-bare"), "No conversations yet"))
        launches["empty"].append(_launch(chat_tui, empty_home, "No conversations yet"))
        launches["big"].append(_launch(chat_tui, big_home, newest))

    def med(kind: str, key: str) -> float:
        return median([launch[key] for launch in launches[kind]])

    quiet, connects, openai_when = _startup_is_quiet(big_home, fake, newest)
    size_label = f"{conversations:,} × {messages}"
    bare_s, empty_s, big_s = med("bare", "ready"), med("empty", "ready"), med("big", "ready")
    return [
        Figure(
            GROUP,
            "bare Textual app: launch → usable prompt",
            bare_s,
            "s",
            samples=[x["ready"] for x in launches["bare"]],
        ),
        Figure(
            GROUP,
            "chat-tui, empty store: launch → usable prompt",
            empty_s,
            "s",
            samples=[x["ready"] for x in launches["empty"]],
            detail=f"first paint {med('empty', 'painted'):.3f} s",
        ),
        Figure(
            GROUP,
            f"chat-tui, {size_label}: launch → usable prompt + sidebar",
            big_s,
            "s",
            samples=[x["ready"] for x in launches["big"]],
            detail=f"first paint {med('big', 'painted'):.3f} s",
        ),
        Figure(GROUP, "empty store ÷ bare app", empty_s / bare_s, "×", target=1.3),
        Figure(GROUP, f"{size_label} ÷ empty store", big_s / empty_s, "×", target=1.2),
        Figure(
            GROUP,
            f"RSS at ready: {size_label} − empty store",
            med("big", "rss") - med("empty", "rss"),
            "MB",
            target=40.0,
            detail=f"empty {med('empty', 'rss'):.1f} MB, bare {med('bare', 'rss'):.1f} MB; "
            f"{SETTLE_SECONDS} s later: +"
            f"{med('big', 'settled_rss') - med('empty', 'settled_rss'):.1f} MB",
        ),
        Figure(
            GROUP,
            "openai imported before the first paint (1 = yes)",
            float(not quiet),
            "",
            target=0.0,
            detail=f"its import began {openai_when}",
        ),
        Figure(GROUP, "network connections during start-up", float(connects), "", target=0.0),
        Figure(GROUP, f"index first build, {size_label}", built, "s"),
        Figure(GROUP, f"index check when up to date, {size_label}", checked, "s"),
        Figure(
            GROUP,
            f"index size, {size_label}",
            size,
            "MB",
            detail=f"{sum(p.stat().st_size for p in source.iterdir()) / 1e6:.0f} MB of JSON",
        ),
    ]
