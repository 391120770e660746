"""Where chat-tui keeps its files.

platformdirs decides the locations, so `XDG_DATA_HOME` and `XDG_CONFIG_HOME` are honoured on
Linux. Nothing here touches the disk at import time: directories are created by the code that
writes into them, with owner-only permissions.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "chat-tui"


def data_dir() -> Path:
    """Root of everything chat-tui stores: conversations, trash, the index."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Directory holding `config.toml`."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """The user's own configuration file (the only file that may hold an API key)."""
    return config_dir() / "config.toml"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the owner only; return it.

    An existing directory keeps its mode: the person may have chosen a looser one.
    """
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path
