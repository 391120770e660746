"""One JSON file per conversation, written atomically, listed and searched through an index.

Layout under the data directory::

    conversations/<id>.json   the conversations (the only source of truth)
    trash/<id>.json           deleted conversations, restorable
    attachments/<sha256>.<ext>  the bytes of attached files, shared by every conversation
    index.sqlite3             derived summaries and full text (rebuilt when missing or stale)
    .lock                     serialises writers across chat-tui processes

Every method is synchronous and thread-safe; the UI calls them from worker threads. Saves take
a snapshot (`Conversation.to_dict()`) so the thread never reads objects the UI is changing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat_tui import limits
from chat_tui.atomic import write_bytes_atomic
from chat_tui.attachments import AttachmentStore, attachments_of
from chat_tui.encoding import ConversationEncoder
from chat_tui.index import (
    SEARCH_LIMIT,
    ConversationIndex,
    ConversationSummary,
    FileStamp,
    Problem,
    SearchHit,
    stamp_of,
    summary_of,
)
from chat_tui.limits import TooLarge, load_json, open_regular_file, size_text
from chat_tui.merge import merge_conversations
from chat_tui.models import Conversation, NewerSchemaError, SchemaError
from chat_tui.paths import ensure_private_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; one process per data dir there
    fcntl = None  # type: ignore[assignment]


class StoreError(Exception):
    """A conversation could not be read or written; the message says why and what to do."""


@dataclass(frozen=True)
class SaveResult:
    revision: int
    merged: Conversation | None = None
    """Set when another process had changed the file: the union both sides now share."""


@dataclass(frozen=True)
class Purged:
    deleted: list[str]
    """The conversations deleted for good."""
    collected: list[Path] | None
    """The attachment copies removed; None if a conversation could not be read, which keeps
    every copy (it may refer to any of them)."""


class ConversationStore:
    """Reads and writes conversation files under `root` (the user data directory)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conversations_dir = root / "conversations"
        self.trash_dir = root / "trash"
        self.attachments = AttachmentStore(root / "attachments")
        self._index = ConversationIndex(
            root / "index.sqlite3", self.conversations_dir, self.attachments.text_of
        )
        self._known: dict[str, FileStamp] = {}
        """Stamp of each file as we last read or wrote it: a different one means a race."""
        self._known_revision: dict[str, int] = {}
        """Revision of each file as we last read or wrote it: a snapshot older than that was
        taken before we saw someone else's changes, and must be merged, not written."""
        self._thread_lock = threading.RLock()
        self._prepared = False
        self._encoder = ConversationEncoder()
        self.cannot_save: str | None = None
        """Why nothing can be written to the data directory, as the last refresh found it
        (a read-only mount, permissions); listing and reading work all the same."""

    def _prepare(self) -> None:
        if not self._prepared:
            for directory in (self.root, self.conversations_dir, self.trash_dir):
                try:
                    ensure_private_dir(directory)
                except OSError as error:
                    raise StoreError(_describe_write_error(error, directory / ".")) from error
            self._prepared = True

    def close(self) -> None:
        """Release the index; a refresh still running in another thread stops early."""
        self._index.close()

    # -- listing and searching -------------------------------------------------------------

    def refresh(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        wait: bool = True,
        listed: Callable[[], None] | None = None,
    ) -> list[Problem]:
        """Re-index whatever changed on disk; return the files that cannot be read.

        `listed` is called when `summaries` lists changed files from their headers, before
        they are read whole (see `ConversationIndex.sync`). Without `wait`, raises
        `IndexBusy` soon if another process is writing the index.
        """
        if not self.root.exists():
            return []
        self.cannot_save = self._unwritable()
        return self._index.sync(progress, wait=wait, listed=listed)

    def coverage(self) -> tuple[int, int] | None:
        """(conversations searched in full, conversations) while a refresh catches up."""
        return self._index.coverage()

    def _unwritable(self) -> str | None:
        """Why nothing can be saved here, or None. Never raises: reading must not depend on
        being able to write (the index then lives in memory)."""
        try:
            self._prepare()
        except StoreError as error:
            return str(error)
        for directory in (self.root, self.conversations_dir):
            if not os.access(directory, os.W_OK):
                return (
                    f"{directory} cannot be written to; check its permissions and whether "
                    "its disk is mounted read-only"
                )
        return None

    def summaries(self, limit: int | None = None) -> list[ConversationSummary]:
        """What the sidebar lists (all, or the newest `limit`), as the index knows it."""
        if not self.root.exists():
            return []
        return self._index.summaries(limit)

    def search(self, query: str, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        if not self.root.exists():
            return []
        return self._index.search(query, limit)

    def problems(self) -> list[Problem]:
        return self._index.problems() if self.root.exists() else []

    # -- reading ---------------------------------------------------------------------------

    def path_of(self, conversation_id: str) -> Path:
        if not conversation_id or "/" in conversation_id or conversation_id.startswith("."):
            raise StoreError(f"invalid conversation id {conversation_id!r}")
        return self.conversations_dir / f"{conversation_id}.json"

    def exists(self, conversation_id: str) -> bool:
        return self.path_of(conversation_id).exists()

    def load(self, conversation_id: str) -> Conversation:
        """Read one conversation. A newer file comes back read-only; a bad one raises."""
        path = self.path_of(conversation_id)
        conversation, stamp = self._read(path)
        with self._thread_lock:
            self._known[conversation.id] = stamp
            self._known_revision[conversation.id] = conversation.revision
        return conversation

    def _read(self, path: Path) -> tuple[Conversation, FileStamp]:
        """The conversation in a file, its replies left "streaming" marked interrupted.

        Nothing in this process streams a reply it reads from a file. Merged in as it was
        written, another process's reply showed here as still being written, and stayed so
        when that process ended without finishing it.
        """
        try:
            with open_regular_file(path) as handle:
                stamp = stamp_of(os.fstat(handle.fileno()))
                data = load_json(handle, limits.CONVERSATION_FILE_BYTES)
        except FileNotFoundError:
            raise StoreError(f"{path.name} no longer exists (deleted elsewhere?)") from None
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error.strerror}") from error
        except TooLarge as error:
            raise StoreError(f"{path} {error}; it was left as it is") from None
        except ValueError as error:  # not UTF-8, not JSON
            raise StoreError(f"{path} is not valid JSON ({error}); it was left as it is") from None
        try:
            conversation = Conversation.from_dict(data)
        except NewerSchemaError:
            conversation = Conversation.from_dict_read_only(data)
        except SchemaError as error:
            raise StoreError(
                f"{path} is not a conversation ({error}); it was left as it is"
            ) from None
        conversation.id = path.stem
        conversation.mark_interrupted()
        return conversation, stamp

    # -- writing ---------------------------------------------------------------------------

    def save(self, conversation: Conversation, *, checkpoint: bool = False) -> Conversation:
        """Save from the calling thread and return what is now on disk (merged if raced)."""
        if conversation.read_only:
            raise StoreError("this conversation was written by a newer chat-tui; not saving")
        result = self.save_snapshot(conversation.to_dict(), checkpoint=checkpoint)
        if result.merged is not None:
            return result.merged
        conversation.revision = result.revision
        return conversation

    def save_snapshot(self, data: dict[str, Any], *, checkpoint: bool = False) -> SaveResult:
        """Write a conversation snapshot (`Conversation.to_dict()`) atomically.

        If another process replaced the file since we last read or wrote it, its version is
        merged with ours first, so neither side's messages are lost. `checkpoint` marks a save
        in the middle of a streamed reply: the summary is indexed, the full text waits for the
        final save. Otherwise the snapshot is written as it is: a checkpoint of a long
        conversation is not turned back into objects (that was most of its cost).
        """
        conversation_id: str = data["id"]
        revision: int = data["revision"]
        self._prepare()
        path = self.path_of(conversation_id)
        with self._write_lock():
            merged: Conversation | None = None
            theirs = self._newer_version_on_disk(path, conversation_id, revision)
            if theirs is not None and theirs.read_only:
                raise StoreError(
                    f"{path.name} was written by a newer chat-tui; it is shown read-only"
                )
            if theirs is not None and theirs.revision != revision:
                merged = merge_conversations(theirs, Conversation.from_dict(data))
                data = merged.to_dict()
            revision = max(revision, theirs.revision if theirs else 0) + 1
            data = {**data, "revision": revision}
            if merged is not None:
                merged.revision = revision
            payload = self._encoder.encode(data)
            if len(payload) > limits.CONVERSATION_FILE_BYTES:
                # A file chat-tui would refuse to read back would hide the conversation.
                raise StoreError(
                    f"this conversation would be {size_text(len(payload))}, more than the "
                    f"{size_text(limits.CONVERSATION_FILE_BYTES)} chat-tui reads back; "
                    "start a new one"
                )
            try:
                write_bytes_atomic(path, payload)
                stamp = stamp_of(os.stat(path))
            except OSError as error:
                raise StoreError(_describe_write_error(error, path)) from error
            self._known[conversation_id] = stamp
            self._known_revision[conversation_id] = revision
            with contextlib.suppress(Exception):
                # The index is a cache: failing to update it must not fail the save.
                if checkpoint:
                    self._index.touch(_snapshot_summary(data), stamp)
                else:
                    self._index.put(merged or Conversation.from_dict(data), stamp)
        return SaveResult(revision, merged)

    def replaced_elsewhere(self, conversation_id: str) -> bool:
        """Whether the file is there and was replaced (by another process) since we last read or
        wrote it; False when it is gone."""
        return self._matches_last_seen(conversation_id) is False

    def is_as_last_seen(self, conversation_id: str) -> bool:
        """Whether the file is still the one we last read or wrote (False once it is gone):
        a copy in memory is then as good as reading it again."""
        return self._matches_last_seen(conversation_id) is True

    def _matches_last_seen(self, conversation_id: str) -> bool | None:
        """Whether the file's stamp is the one we last read or wrote; None if it is gone."""
        try:
            stamp = stamp_of(os.stat(self.path_of(conversation_id)))
        except OSError:
            return None
        with self._thread_lock:
            return stamp == self._known.get(conversation_id)

    def _newer_version_on_disk(
        self, path: Path, conversation_id: str, revision: int
    ) -> Conversation | None:
        """The file's current content if someone else replaced it since we last saw it, or if
        the snapshot being saved predates what we last saw."""
        try:
            stamp = stamp_of(os.stat(path))
        except FileNotFoundError:
            return None
        if stamp == self._known.get(conversation_id) and revision >= self._known_revision.get(
            conversation_id, 0
        ):
            return None
        try:
            conversation, _ = self._read(path)
        except StoreError as error:
            raise StoreError(f"not overwriting a file that cannot be read: {error}") from None
        return conversation

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One writer at a time, across threads and across chat-tui processes."""
        with self._thread_lock:
            if fcntl is None:
                yield
                return
            try:
                fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as error:
                raise StoreError(_describe_write_error(error, self.root / ".lock")) from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    # -- trash -----------------------------------------------------------------------------

    def delete(self, conversation_id: str) -> None:
        """Move a conversation to the trash, from where `restore` brings it back."""
        self._prepare()
        source = self.path_of(conversation_id)
        target = self.trash_dir / source.name
        with self._write_lock():
            try:
                os.replace(source, target)
                os.utime(target)  # the trash lists by deletion time
            except FileNotFoundError:
                pass
            except OSError as error:
                raise StoreError(_describe_write_error(error, source)) from error
            self._known.pop(conversation_id, None)
            self._known_revision.pop(conversation_id, None)
            with contextlib.suppress(Exception):
                self._index.remove(conversation_id)

    def restore(self, conversation_id: str) -> Conversation:
        """Bring a conversation back from the trash."""
        self._prepare()
        source = self.trash_dir / f"{conversation_id}.json"
        target = self.path_of(conversation_id)
        with self._write_lock():
            if target.exists():
                raise StoreError(f"a conversation {conversation_id} already exists")
            if not source.exists():
                raise StoreError(f"no conversation {conversation_id} in the trash")
            try:
                os.replace(source, target)
            except OSError as error:
                raise StoreError(_describe_write_error(error, target)) from error
        self.refresh()
        return self.load(conversation_id)

    def purge(self, conversation_ids: Iterable[str] | None = None) -> Purged:
        """Delete conversations in the trash for good (all of them when `conversation_ids`
        is None), then the attachment copies nothing refers to any more."""
        self._prepare()
        with self._write_lock():
            if conversation_ids is None:
                paths = sorted(self.trash_dir.glob("*.json"))
            else:
                paths = [self._in_trash(conversation_id) for conversation_id in conversation_ids]
            deleted: list[str] = []
            for path in paths:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as error:
                    raise StoreError(_describe_write_error(error, path)) from error
                deleted.append(path.stem)
            return Purged(deleted, self._collect_attachments())

    def _in_trash(self, conversation_id: str) -> Path:
        path = self.trash_dir / self.path_of(conversation_id).name
        if not path.exists():
            raise StoreError(f"no conversation {conversation_id} in the trash")
        return path

    def collect_attachments(self) -> list[Path] | None:
        """Remove the attachment copies no conversation (saved or in the trash) refers to;
        the paths removed, or None when some file could not be read (it may refer to any
        of them, so nothing is removed)."""
        with self._write_lock():
            return self._collect_attachments()

    def _collect_attachments(self) -> list[Path] | None:
        referenced: set[str] = set()
        for folder in (self.conversations_dir, self.trash_dir):
            for path in folder.glob("*.json") if folder.exists() else ():
                try:
                    conversation, _ = self._read(path)
                except StoreError:
                    return None
                referenced.update(a.sha256 for a in attachments_of(conversation.messages))
        return self.attachments.collect(referenced)

    def trash(self) -> list[ConversationSummary]:
        """Deleted conversations, most recently deleted first."""
        if not self.trash_dir.exists():
            return []
        found: list[tuple[int, ConversationSummary]] = []
        for path in self.trash_dir.glob("*.json"):
            try:
                conversation, stamp = self._read(path)
            except StoreError:
                continue
            found.append((stamp[0], summary_of(conversation)))
        found.sort(key=lambda pair: pair[0], reverse=True)
        return [summary for _, summary in found]


def _snapshot_summary(data: dict[str, Any]) -> ConversationSummary:
    """What the index lists for a snapshot, read off it without making its messages."""
    return ConversationSummary(
        id=data["id"],
        title=data["title"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        model=data["model"],
        message_count=len(data["messages"]),
    )


def _describe_write_error(error: OSError, path: Path) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full; free some space (your messages are kept until then)"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{path.parent} cannot be written to ({error.strerror}); check its permissions"
    reason = error.strerror or error
    return f"could not write {path}: {reason} (your messages are kept until then)"
