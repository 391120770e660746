"""Crash-safe file replacement: a reader sees the old file or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`.

    The temporary file lives in the same directory so `os.replace` is a same-filesystem
    rename, which POSIX guarantees to be atomic. The directory is fsynced afterwards so the
    rename itself survives a power cut.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def write_text_atomic(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Text flavour of `write_bytes_atomic` (UTF-8)."""
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def _fsync_directory(directory: Path) -> None:
    """Persist a rename; some platforms cannot open directories, which is fine to skip."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
