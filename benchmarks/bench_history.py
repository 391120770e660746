"""Big conversations: opening one, and switching between two many times.

The store holds two conversations of 2,000 messages and two of 20. From a new, empty
conversation the person clicks one in the sidebar; the time runs from the click to the
newest message being on screen. Then the app switches
between the two long conversations again and again while its resident memory is read.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness import ChatSession, Figure, Scale, data_root, median
from workloads import conversation_data, write_conversation

GROUP = "Big conversations"
EMPTY_HINT = "Ask anything"
LIST_TOP = 3
"""Screen row (0-based) of the first conversation in the sidebar, below the search box."""


def _store(home: Path, long: int, short: int) -> list[tuple[str, str, int]]:
    """Sidebar order (newest first): long A, long B, short C, short D; their last words."""
    folder = data_root(home) / "conversations"
    made = []
    for n, (name, size) in enumerate((("A", long), ("B", long), ("C", short), ("D", short))):
        last = f"lastwords{name}{size}"
        data = conversation_data(
            f"20250101-00000{n}-hist{name}",
            f"History {name} ({size} messages)",
            size,
            seed=100 + n,
            minute=10_000_000 - n * 100_000,
            last_words=last,
        )
        write_conversation(folder, data)
        made.append((name, last, size))
    return made


def _open(session: ChatSession, row: int, last_words: str) -> float:
    """Click the conversation at `row` of the sidebar; seconds to its last words on screen."""
    terminal = session.terminal
    x, y = 6, LIST_TOP + 1 + row * 2  # 1-based cell of the row's title
    mark = terminal.mark()
    clicked = terminal.type(f"\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m")
    return terminal.wait_for(last_words, after=mark) - clicked


def _new_conversation(session: ChatSession) -> None:
    mark = session.terminal.mark()
    session.terminal.type("\x0e")  # ctrl+n
    session.terminal.wait_for(EMPTY_HINT, after=mark)
    time.sleep(0.3)


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    home = home_of("history")
    (_, a_last, long), (_, b_last, _), (_, c_last, short), _ = _store(
        home, scale.long_conversation, scale.short_conversation
    )
    opens: dict[str, list[float]] = {"long": [], "short": []}
    with ChatSession(fake, home) as session:
        session.terminal.wait_for("History A", after=0)
        session.settle()  # indexed: the line saying so no longer moves the list
        for _ in range(scale.runs):
            opens["short"].append(_open(session, 2, c_last))
            _new_conversation(session)
            opens["long"].append(_open(session, 0, a_last))
            _new_conversation(session)
        # Switching between the two long conversations.
        _open(session, 0, a_last)
        _open(session, 1, b_last)
        _open(session, 0, a_last)
        time.sleep(0.5)
        rss_start = session.terminal.rss_mb()
        switch_times = []
        for n in range(scale.switches):
            row, last = (1, b_last) if n % 2 == 0 else (0, a_last)
            switch_times.append(_open(session, row, last))
        time.sleep(0.5)
        rss_end = session.terminal.rss_mb()
    long_s, short_s = median(opens["long"]), median(opens["short"])
    growth = 100 * (rss_end - rss_start) / rss_start
    return [
        Figure(GROUP, f"open a {short}-message conversation", short_s, "s", samples=opens["short"]),
        Figure(GROUP, f"open a {long:,}-message conversation", long_s, "s", samples=opens["long"]),
        Figure(GROUP, f"open {long:,} ÷ {short} messages", long_s / short_s, "×", target=2.0),
        Figure(
            GROUP,
            f"memory growth over {scale.switches} switches between two "
            f"{long:,}-message conversations",
            growth,
            "%",
            target=10.0,
            detail=f"RSS {rss_start:.1f} → {rss_end:.1f} MB; a switch takes "
            f"{median(switch_times) * 1000:.0f} ms (median)",
        ),
    ]
