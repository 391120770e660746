"""Sidebar search over the big store, one keystroke at a time.

Two views of the same thing:

- the store's answer for every prefix of a few queries, as the sidebar asks for it after
  each key (timed in-process, the median of three tries per prefix);
- the whole path in the real app: the last key of a query until its first result is on
  screen. The query is pasted with a tail that matches nothing ("No matches"), and the
  timed keys are the backspaces that remove it: otherwise a last key that leaves the
  results as they were (or as the unfiltered list was) would time nothing, since an
  unchanged list is not drawn again.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness import ChatSession, Figure, Scale, data_root, median, percentile
from workloads import indexed_store

from chat_tui.store import ConversationStore

GROUP = "Search"
NO_MATCH = "zqxj"
QUERIES = (
    "sourdough hydration",
    "kubernetes ingress",
    "exponential backoff jitter",
    "lastof00042",
    "#0123",
    "北京",
    "the",
)
"""Typed key by key: common and rare words, several words, a unique word, a title number,
Chinese (no spaces to split on), and a word in almost every conversation."""
LIST_TOP = 3


def _store_latencies(root: Path, queries: tuple[str, ...]) -> dict[str, float]:
    store = ConversationStore(root)
    times: dict[str, float] = {}
    try:
        for query in queries:
            for end in range(1, len(query) + 1):
                prefix = query[:end]
                if not prefix.strip():
                    continue
                tries = []
                for _ in range(3):
                    started = time.perf_counter()
                    store.search(prefix)
                    tries.append(time.perf_counter() - started)
                times[prefix] = median(tries)
    finally:
        store.close()
    return times


def _typed_in_app(fake, home: Path, queries: tuple[str, ...], root: Path) -> list[float]:
    """Seconds from the last key of each query to its first result's title on screen."""
    store = ConversationStore(root)
    expected = {query: store.search(query) for query in queries}
    store.close()
    seconds = []
    with ChatSession(fake, home) as session:
        terminal = session.terminal
        terminal.wait_for("#0", after=0, timeout=120)
        # The SDK is imported once the first screen is idle: on a busy machine ctrl+f could
        # otherwise take longer than the pause below, and the query would go to the prompt.
        session.settle()
        for query, hits in expected.items():
            if not hits:
                continue
            terminal.type("\x06")  # ctrl+f
            time.sleep(0.3)
            mark = terminal.mark()
            terminal.type(f"\x1b[200~{query}{NO_MATCH}\x1b[201~")  # a bracketed paste
            terminal.wait_for("No matches", after=mark)
            time.sleep(0.3)
            mark = terminal.mark()
            sent = terminal.type("\x7f" * len(NO_MATCH))  # backspaces
            seconds.append(terminal.wait_for(hits[0].summary.title[:20], after=mark) - sent)
            terminal.type("\x1b")  # Esc clears the filter
            time.sleep(0.5)
    return seconds


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    home, _ = indexed_store(cache, scale.conversations, scale.messages_per_conversation, home_of)
    root = data_root(home)
    queries = QUERIES[: scale.search_queries] if scale.quick else QUERIES
    latencies = _store_latencies(root, queries)
    typed = _typed_in_app(fake, home, queries, root)
    worst = max(latencies, key=latencies.__getitem__)
    values = list(latencies.values())
    label = f"{scale.conversations:,} conversations"
    return [
        Figure(
            GROUP,
            f"store search per keystroke, {label}, worst prefix",
            latencies[worst],
            "s",
            target=0.05,
            detail=f"worst {worst!r}; p50 {percentile(values, 0.5) * 1000:.1f} ms, "
            f"p95 {percentile(values, 0.95) * 1000:.1f} ms over {len(values)} prefixes",
        ),
        Figure(
            GROUP,
            "last key in the search box → first result on screen, median",
            median(typed),
            "s",
            samples=typed,
            detail=f"max {max(typed) * 1000:.0f} ms over {len(typed)} queries",
        ),
    ]
