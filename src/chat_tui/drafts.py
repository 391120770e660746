"""Unsent prompts, kept on disk so a crash or a closed terminal never loses what was typed.

One small file per conversation under `drafts/` ("new" for a conversation not saved yet),
replaced atomically, removed once the prompt is sent or emptied.
"""

from __future__ import annotations

from pathlib import Path

from chat_tui.atomic import write_text_atomic
from chat_tui.limits import DRAFT_BYTES, TooLarge, read_file_at_most
from chat_tui.paths import ensure_private_dir

NEW_CONVERSATION = "new"


class DraftStore:
    def __init__(self, root: Path) -> None:
        self.directory = root / "drafts"
        self._in_memory: dict[str, str] = {}
        """Drafts that could not be written or removed (a read-only data directory): kept
        for this session instead, and taken over what is on disk."""

    def _path(self, key: str) -> Path:
        safe = "".join(c for c in key if c.isalnum() or c in "-_") or NEW_CONVERSATION
        return self.directory / f"{safe}.txt"

    def save(self, key: str, text: str) -> None:
        """Keep `text` as the draft of `key`; an empty text removes the draft."""
        if not text.strip():
            self.clear(key)
            return
        try:
            ensure_private_dir(self.directory.parent)
            ensure_private_dir(self.directory)
            write_text_atomic(self._path(key), text)
        except OSError:
            self._in_memory[key] = text
        else:
            self._in_memory.pop(key, None)

    def load(self, key: str) -> str:
        if key in self._in_memory:
            return self._in_memory[key]
        try:
            return read_file_at_most(self._path(key), DRAFT_BYTES).decode("utf-8")
        except (OSError, UnicodeDecodeError, TooLarge):  # (no draft chat-tui wrote)
            return ""

    def clear(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError:
            self._in_memory[key] = ""  # the file stays; for this session there is no draft
        else:
            self._in_memory.pop(key, None)
