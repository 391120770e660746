"""Small test utilities shared by several test modules."""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator

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
