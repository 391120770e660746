"""Opening a file in the system's viewer: `xdg-open`, `open` or `os.startfile`.

Run without a shell (the path is one argument, whatever it holds) and without waiting: the
viewer lives on after chat-tui, and its output never reaches chat-tui's screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

VIEWERS = {"darwin": "open"}
"""The opener of each platform; `xdg-open` elsewhere (Windows uses `os.startfile`)."""


def viewer_command(platform: str = sys.platform) -> str:
    return VIEWERS.get(platform, "xdg-open")


def open_in_viewer(path: Path, platform: str = sys.platform) -> str | None:
    """Start the viewer on `path`; None when it started, else what went wrong, for the person."""
    if platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined]  # (only on Windows)
        except OSError as error:
            return f"Windows could not open it: {error.strerror or error}"
        return None
    command = viewer_command(platform)
    program = shutil.which(command)
    if program is None:
        return f"No viewer to open it with: {command} is not installed. The file is at {path}"
    try:
        # No shell: the path is one argument, whatever it holds.
        process = subprocess.Popen(
            [program, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        return f"{command} could not be started: {error.strerror or error}"
    # Reaped when it ends, so no finished opener lingers as a zombie.
    threading.Thread(target=process.wait, name="viewer", daemon=True).start()
    return None
