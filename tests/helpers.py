"""Small test utilities shared by several test modules."""

from __future__ import annotations

import contextlib
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from textual.app import App
from textual.worker import WorkerCancelled, WorkerFailed


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Make writes past `limit` bytes fail (EFBIG), like a full disk, even for root."""
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


async def workers_done(app: App) -> None:
    """Wait for every worker; one cancelled by a newer one (an exclusive refresh) is fine."""
    for _ in range(5):
        try:
            await app.workers.wait_for_complete()
        except (WorkerCancelled, WorkerFailed):
            continue
        return


async def eventually(pilot, condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Pause until `condition()` holds (True) or `seconds` pass (False).

    For what happens after a refresh, which a busy machine can delay past one pause.
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.05)
    return True


_HOLD_WRITE_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("COMMIT")
"""


class WriterOfTheIndex:
    """Another process in the middle of writing the index: it holds SQLite's write lock,
    as a chat-tui does while it re-indexes, until `finish()`."""

    def __init__(self, database: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _HOLD_WRITE_LOCK, str(database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        assert self._process.stdout.readline() == "locked\n"

    def finish(self) -> None:
        """Commit and end; waits until the lock is released."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        assert self._process.wait(timeout=30) == 0


@contextlib.contextmanager
def index_written_by_another_process(database: Path) -> Iterator[WriterOfTheIndex]:
    writer = WriterOfTheIndex(database)
    try:
        yield writer
    finally:
        writer.finish()
