"""The list of conversations on a new machine, and while a sync changes files under the app.

- **No index.** The big store's files without `index.sqlite3`, as after copying them to a
  new computer, restoring a backup or deleting the index: launch → the newest
  conversation's title in the sidebar, then a click on it → its last words in the log. The
  index is deleted before each launch.
- **A sync under the running app.** The instrumented app on a copy of the indexed big
  store; once it is idle, `SYNCED` files are replaced the way a sync tool does (a
  temporary file renamed over each), each with a new title, newer than every other, and a
  word of its own in its text. Timed: the last write → the newest of them listed, and → a
  search for the word of the one indexed last finding it; the loop-lag probe's maximum
  over the whole time, from the first write until the app is idle again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from harness import BenchmarkError, ChatSession, Figure, Scale, data_root, median
from workloads import big_store, copy_conversations, indexed_store, store_title

from chat_tui.store import ConversationStore

GROUP = "Listing"
SYNCED = 500
"""Files a sync replaces under the running app (fewer in quick mode)."""


def _launch_without_index(fake, home: Path, newest: str, last_words: str) -> dict:
    root = data_root(home)
    for suffix in ("", "-wal", "-shm"):
        (root / f"index.sqlite3{suffix}").unlink(missing_ok=True)
    with ChatSession(fake, home) as session:
        terminal = session.terminal
        listed = terminal.wait_for(newest, after=0)
        mark = terminal.mark()
        terminal.click_on(newest)
        opened = terminal.wait_for(last_words, after=mark)
    return {"listed": listed - terminal.started, "opened": opened - terminal.started}


def _synced_copy(title: str, word: str, source: Path, minute_after: str) -> bytes:
    data = json.loads(source.read_text("utf-8"))
    data["title"] = title
    data["updated_at"] = minute_after
    data["messages"][-1]["content"] += f"\n\n{word}"
    return json.dumps(data, ensure_ascii=False, indent=1).encode()


def _until_found_alone(terminal, title: str, other: str, timeout: float = 120.0) -> float:
    """When the list shows `title` without `other` (the search found that one alone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = terminal.screen
        if title in screen and other not in screen:
            return time.monotonic()
        time.sleep(0.02)
    raise BenchmarkError(f"the search never found {title!r} alone:\n{terminal.screen}")


def _sync_under_app(fake, home: Path, conversations: int, synced: int) -> dict[str, float]:
    """Replace `synced` files under the running app; when was it listed, searchable, and
    how late did the event loop run meanwhile."""
    probe = home / "probe.json"
    folder = data_root(home) / "conversations"
    step = conversations // synced
    chosen = [folder / f"2024{n * step:06d}-bench.json" for n in range(synced)]
    payloads = [
        _synced_copy(
            f"Synced {k:04d}",
            f"syncword{k:04d}",
            path,
            f"2030-01-01T00:{k // 60:02d}:{k % 60:02d}.000+00:00",
        )
        for k, path in enumerate(chosen)
    ]
    with ChatSession(fake, home, instrumented=True, CHAT_TUI_BENCH_PROBE=str(probe)) as session:
        terminal = session.terminal
        terminal.wait_for(store_title(conversations - 1)[:20], after=0, timeout=120)
        session.settle()
        began = time.monotonic()
        for path, payload in zip(chosen, payloads, strict=True):
            temporary = path.with_name(f".{path.name}.sync.tmp")
            temporary.write_bytes(payload)
            os.replace(temporary, path)
        written = time.monotonic()
        # They are listed together; the list keeps the highlighted row in view.
        listed = terminal.wait_for("Synced 0", timeout=120)
        # Files are read whole newest first: the first one written is indexed last.
        terminal.type("\x06")  # ctrl+f
        time.sleep(0.3)  # as a person does: the paste would otherwise beat the focus
        terminal.type("\x1b[200~syncword0000\x1b[201~")  # a bracketed paste
        searchable = _until_found_alone(terminal, "Synced 0000", "Synced 0001")
        terminal.type("\x1b")  # Esc clears the search
        session.settle()
        settled = time.monotonic()
    record = json.loads(probe.read_text())
    lags = [lag for at, lag in record["lag"] if began <= at <= settled]
    if not lags:
        raise BenchmarkError("the loop-lag probe recorded nothing during the sync")
    return {
        "lag_max": max(lags),
        "writing": written - began,
        "listed": listed - written,
        "searchable": searchable - written,
    }


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    conversations, messages = scale.conversations, scale.messages_per_conversation
    size_label = f"{conversations:,} conversations"

    fresh = home_of("listing-no-index")
    copy_conversations(big_store(cache, conversations, messages), data_root(fresh))
    newest = store_title(conversations - 1)[:20]
    last_words = f"lastof{conversations - 1:05d}"
    launches = [_launch_without_index(fake, fresh, newest, last_words) for _ in range(scale.runs)]
    listed = [launch["listed"] for launch in launches]
    opened = median([launch["opened"] for launch in launches])

    synced = min(SYNCED, conversations // 2)
    runs = []
    indexed_home, _ = indexed_store(cache, conversations, messages, home_of)
    for _ in range(max(1, scale.runs // 2)):
        home = home_of("listing-sync")
        shutil.copytree(data_root(indexed_home), data_root(home))
        # A copy has new inodes and change times: bring its index up to date first.
        store = ConversationStore(data_root(home))
        store.refresh()
        store.close()
        runs.append(_sync_under_app(fake, home, conversations, synced))
        shutil.rmtree(home, ignore_errors=True)
    lags = [run["lag_max"] for run in runs]
    caught_up = (
        f"written in {median([run['writing'] for run in runs]):.2f} s; after the last write, "
        f"the newest listed in {median([run['listed'] for run in runs]):.2f} s (the app looks "
        f"every 2 s), all searchable in {median([run['searchable'] for run in runs]):.2f} s"
    )
    no_index = f"no index, {size_label}: launch → newest conversation listed"
    return [
        Figure(
            GROUP,
            no_index,
            median(listed),
            "s",
            target=1.0,
            samples=listed,
            detail=f"opened (a click on it → its last words shown) at {opened:.2f} s",
        ),
        Figure(
            GROUP,
            f"{synced} files synced under the running app: event loop lag, max",
            median(lags),
            "s",
            target=0.05,
            samples=lags,
            detail=caught_up,
        ),
    ]
