"""The disk misbehaving: writes that fail as on a full disk, an index another process is writing."""

from __future__ import annotations

import contextlib
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


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
