"""Running the real `chat-tui` command in a subprocess, as a shell would."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.pty import WITHOUT_ROOT_POWERS

TIMEOUT = 60
_RUN_CHAT_TUI = (
    "import runpy, sys; sys.argv = ['chat-tui', *sys.argv[1:]]; "
    "runpy.run_module('chat_tui', run_name='__main__')"
)


@dataclass
class Shell:
    """`python -m chat_tui` with the test's own data and config directories."""

    env: dict[str, str]
    data_dir: Path

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "chat_tui"]

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        obey_permissions: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run chat-tui; `obey_permissions` holds it to file permissions even as root."""
        command = self.command
        if obey_permissions:
            command = [sys.executable, "-c", WITHOUT_ROOT_POWERS, _RUN_CHAT_TUI]
        return subprocess.run(
            [*command, *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
        )

    def start(self, *args: str, stdin: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
        """A running process with pipes on its streams, for signals and dialogue."""
        return subprocess.Popen(
            [*self.command, *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )

    def saved(self) -> list[dict[str, Any]]:
        """Every conversation file, by id: by time to the second, then at random."""
        folder = self.data_dir / "conversations"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def read_until(process: subprocess.Popen[bytes], marker: bytes, seen: bytes = b"") -> bytes:
    """Everything `process` writes to stdout up to and including `marker` (plus `seen`)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    data = seen
    deadline = time.monotonic() + TIMEOUT
    while marker not in data:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} never came; got {data!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"output ended before {marker!r}: {data!r}"
            data += chunk
    return data


def one_line_error(stderr: str) -> str:
    """The single line a failing command printed, checked to be one `chat-tui:` line."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    assert lines[0].startswith("chat-tui: ")
    return lines[0]


def make_shell(data_dir: Path, **extra: str) -> Shell:
    """Call after the `isolated_dirs` fixture: the environment carries its directories.

    PYTHONUNBUFFERED is dropped: a person's shell does not set it, and with it Python drops
    the rest of a partial write to a closed pipe instead of reporting it.
    """
    env = dict(os.environ, CHAT_TUI_MAX_RETRIES="0", CHAT_TUI_TIMEOUT="10", **extra)
    env.pop("PYTHONUNBUFFERED", None)
    return Shell(env=env, data_dir=data_dir)
