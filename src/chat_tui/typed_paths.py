"""Paths as people type and paste them: `~` and relative paths, Tab completion, and the
forms terminals paste a dropped file in (quoted, backslash-escaped, `file://` URLs).

Plain functions on strings and the file system; the dialog and the prompt call them from
worker threads, since listing a directory can be slow (a network mount).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

MAX_CHOICES = 200
"""Completion reads at most this many entries of a directory: a huge one stays quick."""
MAX_PASTED_PATH = 4096
"""A paste longer than this is text, never a path (PATH_MAX on Linux)."""


def working_directory() -> Path:
    """Where relative paths start: the current directory, or home if it was removed."""
    try:
        return Path.cwd()
    except OSError:
        return Path.home()


def expand(typed: str, cwd: Path) -> Path:
    """The path `typed` names: `~` expanded, relative to `cwd`."""
    path = Path(os.path.expanduser(typed.strip()))
    return path if path.is_absolute() else cwd / path


@dataclass(frozen=True)
class Completion:
    text: str
    """The input after completing: the longest prefix every choice shares."""
    choices: list[str]
    """The names that match (directories end with "/"), sorted; empty if none does."""


def complete(typed: str, cwd: Path) -> Completion:
    """Complete the last part of `typed` against the files of its directory.

    A single match is completed whole (a directory gets its "/"); several are completed to
    their common prefix. What the person typed (`~`, a relative path) is kept as typed.
    """
    head, _, prefix = typed.rpartition("/")
    folder_typed = f"{head}/" if typed.count("/") else ""
    folder = expand(folder_typed or ".", cwd) if folder_typed != "/" else Path("/")
    choices: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_CHOICES:
                    break
                if not entry.name.startswith(prefix):
                    continue
                if entry.name.startswith(".") and not prefix.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                choices.append(entry.name + ("/" if is_dir else ""))
    except OSError:
        return Completion(typed, [])
    choices.sort()
    if not choices:
        return Completion(typed, [])
    common = os.path.commonprefix(choices)  # noqa: RUF071 (names, not paths: a prefix)
    return Completion(folder_typed + common, choices)


def unquoted(text: str) -> str | None:
    """The one path `text` names when written as a shell or a file manager writes it
    (quoted, backslash-escaped, a `file://` URL); None if it is not one such path."""
    text = text.strip()
    if not text or len(text) > MAX_PASTED_PATH or "\n" in text or "\r" in text:
        return None
    if text.startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or not parts.path:
            return None
        return unquote(parts.path)
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    return words[0] if len(words) == 1 else None


def pasted_path(text: str) -> str | None:
    """The path a paste names, if it looks like exactly one path, else None.

    Terminals paste a dropped file as `/a/b c.png`, `'/a/b c.png'`, `/a/b\\ c.png` or
    `file:///a/b%20c.png`. Whether that file exists is for the caller to check (off the
    event loop).
    """
    path = unquoted(text)
    if path is None or not path.startswith(("/", "~/", "./", "../")):
        return None
    return path


def typed_file(typed: str, cwd: Path) -> Path:
    """The file a path box names: as typed if that exists, else as a shell would read it
    (a path dropped into the box arrives quoted or escaped). Reads the disk."""
    path = expand(typed, cwd)
    if path.exists():
        return path
    plain = unquoted(typed)
    return expand(plain, cwd) if plain else path
