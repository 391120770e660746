"""A derived SQLite index of the conversation files: summaries for the sidebar and full text.

The JSON files are the truth; this index only makes them fast to list and search. Each row
remembers the (mtime, size) of the file it was built from, so `sync` re-reads exactly the files
that changed, appeared or vanished behind our back, and a damaged index is simply rebuilt.
Files waiting to be read whole are listed meanwhile from their first bytes (`headers.py`),
newest first, so a missing index or a sync of hundreds of files never empties the list.
Message text goes into an FTS5 table with the trigram tokenizer, which matches substrings in
any script (Chinese has no spaces to split words on). Words too short for trigrams in such
scripts (most Chinese words have two characters) are found through a second table of the
one- and two-character pieces of the text's non-ASCII runs. The names of attached files
and the content of attached text files are indexed with the messages they came with.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chat_tui import limits
from chat_tui.headers import Header, read_header
from chat_tui.limits import TooLarge, load_json, open_regular_file
from chat_tui.models import Attachment, Conversation, Message, NewerSchemaError, SchemaError

AttachmentText = Callable[[Attachment], str]
"""A text attachment's content (raising `Exception` when its copy cannot be read)."""

INDEX_FORMAT = "7"
"""Bump to force a rebuild when the index layout or its derivation changes."""
TRIGRAM = 3
SNIPPET_CHARS = 60
"""Characters of message text shown under a search hit (the sidebar cuts what is too long)."""
SNIPPET_BEFORE = 12
SEARCH_LIMIT = 200
"""Search hits returned: the newest matches (a person refines the query before scrolling)."""
SYNC_BATCH = 200
"""Files indexed per transaction when catching up with the directory."""
FIRST_HEADERS = 100
"""Headers read (newest files first) before the list is first shown from them."""
BUSY_MS = 10_000
"""How long a write waits for another process's write to end, by default."""
BRIEF_BUSY_MS = 250
"""... and how long `sync(wait=False)` waits before saying the index is busy."""
_TABLES = ("meta", "conversations", "message_text", "short_pieces")


class IndexBusy(sqlite3.OperationalError):
    """Another process is writing the index (a second chat-tui re-indexing, say).

    Nothing is wrong with it: what it holds can still be read (the database is in WAL mode,
    where readers never wait for a writer), and writing can be tried again later.
    """


@dataclass(frozen=True)
class ConversationSummary:
    """What the sidebar shows for one conversation, without reading its messages."""

    id: str
    title: str
    created_at: str
    updated_at: str
    model: str
    message_count: int
    read_only: bool = False


def summary_of(conversation: Conversation) -> ConversationSummary:
    return ConversationSummary(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        model=conversation.model,
        message_count=len(conversation.messages),
        read_only=conversation.read_only,
    )


@dataclass(frozen=True)
class SearchHit:
    summary: ConversationSummary
    snippet: str
    """Text around the first match, empty when only the title matched."""


@dataclass(frozen=True)
class Problem:
    """A conversation file that could not be read; it is left untouched on disk."""

    path: Path
    reason: str


FileStamp = tuple[int, int, int, int]
"""(mtime_ns, size, ctime_ns, inode): changes whenever a file is written or replaced.

The change time and the inode catch what mtime and size miss: an edit that keeps the size
and puts the old modification time back (`touch -r`, `rsync -t`), or a file swapped for
another one. Nothing but the kernel sets the change time.
"""


def stamp_of(stat: os.stat_result) -> FileStamp:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino)


class ConversationIndex:
    """Summaries and full text of every conversation file in one directory.

    The text of a conversation is one row of an FTS5 table whose rowid is made from the time
    the conversation was last active (`_recency_key`), so "the newest conversations holding
    this text" is a walk down the index that stops after `limit` rows, however many of the
    10,000 conversations hold a common word.
    """

    def __init__(
        self,
        database: Path,
        conversations_dir: Path,
        attachment_text: AttachmentText | None = None,
    ) -> None:
        self._database = database
        self._conversations_dir = conversations_dir
        self._attachment_text = (
            functools.lru_cache(maxsize=16)(attachment_text) if attachment_text else None
        )
        """Cached: every save of a conversation indexes its attachments again."""
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._closes = 0
        """How often `close` was called: a sync that sees it change stops."""
        self._pending: dict[str, tuple[FileStamp, ConversationSummary]] = {}
        """Files a sync has yet to read whole, as their headers describe them: listed (and
        found by title) instead of what the index holds for them, if anything."""
        self._coverage: tuple[int, int] | None = None
        """(files read whole, files) while a sync catches up; None otherwise."""
        self._syncing = threading.Lock()
        """One sync at a time: two would read the same files twice over."""

    # -- connection ------------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect(self._database)
        except sqlite3.DatabaseError as error:
            if _is_locked(error):
                # Another process is creating or rebuilding it: theirs to finish, not ours
                # to delete. This session keeps its own index in memory.
                return self._connect(":memory:")
        try:
            self._discard_database()
            return self._connect(self._database)
        except (sqlite3.DatabaseError, OSError):
            # A read-only or full data directory: keep an index in memory for this session,
            # so the conversations are still listed and searchable.
            return self._connect(":memory:")

    def _connect(self, database: Path | str) -> sqlite3.Connection:
        if isinstance(database, Path):
            _make_private(database)
        db = sqlite3.connect(database, check_same_thread=False, timeout=BUSY_MS / 1000)
        db.create_function("casefold", 1, _casefold, deterministic=True)
        db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        if self._is_current(db):
            # Nothing to write: opening never waits for another process writing the index.
            return db
        version = self._format_of(db)
        if version != INDEX_FORMAT:
            db.executescript(
                """
                DROP TABLE IF EXISTS conversations;
                DROP TABLE IF EXISTS message_text;
                DROP TABLE IF EXISTS short_pieces;
                DROP TABLE IF EXISTS meta;
                """
            )
        db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS conversations(
                rowid INTEGER PRIMARY KEY,
                id TEXT UNIQUE NOT NULL,
                mtime_ns INTEGER NOT NULL,
                size INTEGER NOT NULL,
                ctime_ns INTEGER NOT NULL DEFAULT 0,
                inode INTEGER NOT NULL DEFAULT 0,
                problem TEXT,
                title TEXT NOT NULL DEFAULT '',
                folded_title TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL DEFAULT '',
                updated_at TEXT NOT NULL DEFAULT '',
                model TEXT NOT NULL DEFAULT '',
                message_count INTEGER NOT NULL DEFAULT 0,
                read_only INTEGER NOT NULL DEFAULT 0,
                text_key INTEGER UNIQUE
            );
            CREATE INDEX IF NOT EXISTS by_updated ON conversations(updated_at, id);
            CREATE INDEX IF NOT EXISTS with_problems ON conversations(id) WHERE problem IS NOT NULL;
            CREATE VIRTUAL TABLE IF NOT EXISTS message_text
                USING fts5(text, tokenize='trigram');
            CREATE VIRTUAL TABLE IF NOT EXISTS short_pieces
                USING fts5(pieces, tokenize='ascii');
            INSERT OR REPLACE INTO meta VALUES ('format', '{INDEX_FORMAT}');
            """
        )
        db.commit()
        return db

    @classmethod
    def _is_current(cls, db: sqlite3.Connection) -> bool:
        """Whether the index has this version's format and all its tables."""
        if cls._format_of(db) != INDEX_FORMAT:
            return False
        marks = ",".join("?" * len(_TABLES))
        (found,) = db.execute(
            f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", _TABLES
        ).fetchone()
        return bool(found == len(_TABLES))

    @staticmethod
    def _format_of(db: sqlite3.Connection) -> str | None:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def _discard_database(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self._database}{suffix}")

    def close(self) -> None:
        """Release the database (the next call opens it again). A sync running in another
        thread gives up: whoever closes the index is done with it (say, the app quits),
        and the rest of a first build of thousands of files would hold up the exit."""
        self._closes += 1
        with self._lock:
            self._pending = {}
        self._disconnect()

    def _disconnect(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextlib.contextmanager
    def _transaction(self, busy_ms: int = BUSY_MS) -> Iterator[sqlite3.Connection]:
        """A write transaction, waiting up to `busy_ms` for another process's to end."""
        with self._lock:
            try:
                if busy_ms != BUSY_MS:
                    self.db.execute(f"PRAGMA busy_timeout = {busy_ms}")
                try:
                    with self.db as db:
                        yield db
                finally:
                    if busy_ms != BUSY_MS and self._db is not None:
                        self._db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            except sqlite3.DatabaseError as error:
                if _is_locked(error):
                    raise IndexBusy(str(error)) from error
                # A damaged index is only a cache: throw it away and let sync rebuild it.
                self._disconnect()
                self._discard_database()
                raise

    # -- keeping in step with the files -----------------------------------------------------

    def sync(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        wait: bool = True,
        listed: Callable[[], None] | None = None,
    ) -> list[Problem]:
        """Bring the index in line with the directory; return the files that cannot be read.

        The headers of the files that changed are read first, newest first, and `listed` is
        called when `summaries` holds the first `FIRST_HEADERS` of them and again when it
        holds them all. The files are then read whole, newest first, in batches of
        `SYNC_BATCH`, one transaction each: FTS5 then writes a few large segments instead
        of one per file, which makes a first build of thousands of conversations several
        times faster. `progress` hears (files read whole, files) after each batch. Without
        `wait`, `IndexBusy` is raised soon when another process is writing the index
        (batches already written stay written, headers stay listed).
        """
        with self._syncing:
            try:
                return self._sync(progress, wait=wait, listed=listed)
            finally:
                with self._lock:
                    self._coverage = None

    def _sync(
        self,
        progress: Callable[[int, int], None] | None,
        *,
        wait: bool,
        listed: Callable[[], None] | None,
    ) -> list[Problem]:
        closes = self._closes
        busy_ms = BUSY_MS if wait else BRIEF_BUSY_MS
        on_disk = self._scan()
        with self._lock:
            try:
                indexed = self._indexed_stamps()
            except sqlite3.DatabaseError as error:
                if _is_locked(error):
                    raise IndexBusy(str(error)) from error
                self._disconnect()
                self._discard_database()
                indexed = self._indexed_stamps()
        stale = [cid for cid, stamp in on_disk.items() if indexed.get(cid) != stamp]
        stale.sort(key=lambda cid: on_disk[cid][0], reverse=True)  # newest first
        gone = [cid for cid in indexed if cid not in on_disk]
        with self._lock:
            self._coverage = (len(on_disk) - len(stale), len(on_disk))
        if not self._read_headers(stale, on_disk, closes, listed):
            return []
        if gone:
            with self._transaction(busy_ms) as db:
                for cid in gone:
                    self._delete_row(db, cid)
        for start in range(0, len(stale), SYNC_BATCH):
            batch: list[tuple[str, tuple[Conversation | str | None, FileStamp]]] = []
            for cid in stale[start : start + SYNC_BATCH]:
                if self._closes != closes:
                    return []
                batch.append((cid, self._read_file(cid)))
            with self._transaction(busy_ms) as db:
                for cid, (found, stamp) in batch:
                    if found is None:
                        self._delete_row(db, cid)
                    elif isinstance(found, str):
                        self._record_problem(db, cid, stamp, found)
                    else:
                        self._put(db, found, stamp)
                    self._pending.pop(cid, None)
                done = len(on_disk) - len(stale) + min(start + SYNC_BATCH, len(stale))
                self._coverage = (done, len(on_disk))
            if progress is not None:
                progress(done, len(on_disk))
        return self.problems()

    def _read_headers(
        self,
        stale: list[str],
        on_disk: dict[str, FileStamp],
        closes: int,
        listed: Callable[[], None] | None,
    ) -> bool:
        """List the files to be read whole by their headers (False if closed meanwhile).

        A header read by an earlier sync is kept while its file is unchanged (a sync that
        found the index busy is tried again every few seconds).
        """
        with self._lock:
            earlier = self._pending
        pending: dict[str, tuple[FileStamp, ConversationSummary]] = {}
        for cid in stale:
            if self._closes != closes:
                return False
            known = earlier.get(cid)
            if known is not None and known[0] == on_disk[cid]:
                pending[cid] = known
            elif (found := read_header(self._conversations_dir / f"{cid}.json")) is not None:
                status, header = found
                pending[cid] = (stamp_of(status), _header_summary(cid, header))
            if len(pending) == FIRST_HEADERS and not earlier and listed is not None:
                with self._lock:
                    self._pending = dict(pending)
                listed()
        with self._lock:
            self._pending = pending
        if listed is not None and (pending or earlier):
            listed()
        return True

    def coverage(self) -> tuple[int, int] | None:
        """(conversations read whole, conversations) while a sync catches up, else None:
        how much of the text a search covers so far."""
        with self._lock:
            return self._coverage

    def _scan(self) -> dict[str, FileStamp]:
        stamps: dict[str, FileStamp] = {}
        try:
            entries = os.scandir(self._conversations_dir)
        except FileNotFoundError:
            return stamps
        with entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".json") and not name.startswith(".") and name.isprintable():
                    with contextlib.suppress(FileNotFoundError):
                        stamps[name[:-5]] = stamp_of(entry.stat())
        return stamps

    def _indexed_stamps(self) -> dict[str, FileStamp]:
        rows = self.db.execute("SELECT id, mtime_ns, size, ctime_ns, inode FROM conversations")
        return {cid: (mtime, size, ctime, inode) for cid, mtime, size, ctime, inode in rows}

    def _read_file(self, conversation_id: str) -> tuple[Conversation | str | None, FileStamp]:
        """The conversation in a file (or why it cannot be read, or None if it is gone).

        The stamp is taken from the open file, so it always describes the bytes read.
        """
        path = self._conversations_dir / f"{conversation_id}.json"
        stamp: FileStamp = (0, 0, 0, 0)
        try:
            with open_regular_file(path) as handle:
                stamp = stamp_of(os.fstat(handle.fileno()))
                data = load_json(handle, limits.CONVERSATION_FILE_BYTES)
        except FileNotFoundError:
            return None, (0, 0, 0, 0)
        except OSError as error:
            with contextlib.suppress(OSError):
                stamp = stamp_of(os.stat(path))
            return f"cannot be read: {error.strerror}", stamp
        except TooLarge as error:
            return str(error), stamp
        except ValueError as error:  # not UTF-8, not JSON
            return f"is not valid JSON ({error})", stamp
        try:
            conversation = Conversation.from_dict(data)
        except NewerSchemaError:
            try:
                conversation = Conversation.from_dict_read_only(data)
            except SchemaError as error:
                return f"is not a conversation: {error}", stamp
        except SchemaError as error:
            return f"is not a conversation: {error}", stamp
        conversation.id = conversation_id
        return conversation, stamp

    def put(self, conversation: Conversation, stamp: FileStamp) -> None:
        """Record a conversation as written to disk with `stamp`."""
        with self._transaction() as db:
            self._put(db, conversation, stamp)
            self._pending.pop(conversation.id, None)

    def _put(self, db: sqlite3.Connection, conversation: Conversation, stamp: FileStamp) -> None:
        self._upsert(db, conversation.id, stamp, problem=None, summary=summary_of(conversation))
        self._delete_text(db, conversation.id)
        key = _recency_key(conversation.updated_at)
        while db.execute("SELECT 1 FROM conversations WHERE text_key = ?", (key,)).fetchone():
            key -= 1  # another conversation was active in the same second
        # A row no conversation points to is a leftover (say, of a row deleted by hand).
        db.execute("DELETE FROM message_text WHERE rowid = ?", (key,))
        db.execute("DELETE FROM short_pieces WHERE rowid = ?", (key,))
        text = searchable_text(conversation, self._attachment_text)
        db.execute("INSERT INTO message_text(rowid, text) VALUES (?, ?)", (key, text))
        pieces = short_pieces(text)
        if pieces:
            db.execute("INSERT INTO short_pieces(rowid, pieces) VALUES (?, ?)", (key, pieces))
        db.execute("UPDATE conversations SET text_key = ? WHERE id = ?", (key, conversation.id))

    def touch(self, summary: ConversationSummary, stamp: FileStamp) -> None:
        """Update the summary only (a checkpoint mid-stream); text is indexed on `put`."""
        with self._transaction() as db:
            self._upsert(db, summary.id, stamp, problem=None, summary=summary)
            self._pending.pop(summary.id, None)

    def remove(self, conversation_id: str) -> None:
        with self._transaction() as db:
            self._delete_row(db, conversation_id)
            self._pending.pop(conversation_id, None)

    def _record_problem(
        self, db: sqlite3.Connection, conversation_id: str, stamp: FileStamp, reason: str
    ) -> None:
        self._upsert(db, conversation_id, stamp, problem=reason)
        self._delete_text(db, conversation_id)

    @staticmethod
    def _upsert(
        db: sqlite3.Connection,
        conversation_id: str,
        stamp: FileStamp,
        *,
        problem: str | None,
        summary: ConversationSummary | None = None,
    ) -> None:
        title = _indexable(summary.title) if summary else ""
        db.execute(
            """
            INSERT INTO conversations(id, mtime_ns, size, ctime_ns, inode, problem, title,
                                      folded_title, created_at, updated_at, model,
                                      message_count, read_only)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET
                mtime_ns = excluded.mtime_ns, size = excluded.size,
                ctime_ns = excluded.ctime_ns, inode = excluded.inode, problem = excluded.problem,
                title = excluded.title, folded_title = excluded.folded_title,
                created_at = excluded.created_at, updated_at = excluded.updated_at,
                model = excluded.model, message_count = excluded.message_count,
                read_only = excluded.read_only
            """,
            (
                conversation_id,
                *stamp,
                problem and _indexable(problem),
                title,
                title.casefold(),
                _indexable(summary.created_at) if summary else "",
                _indexable(summary.updated_at) if summary else "",
                _indexable(summary.model) if summary else "",
                summary.message_count if summary else 0,
                int(summary.read_only) if summary else 0,
            ),
        )

    @staticmethod
    def _delete_text(db: sqlite3.Connection, conversation_id: str) -> None:
        row = db.execute(
            "SELECT text_key FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is not None and row[0] is not None:
            db.execute("DELETE FROM message_text WHERE rowid = ?", (row[0],))
            db.execute("DELETE FROM short_pieces WHERE rowid = ?", (row[0],))
            db.execute("UPDATE conversations SET text_key = NULL WHERE id = ?", (conversation_id,))

    @classmethod
    def _delete_row(cls, db: sqlite3.Connection, conversation_id: str) -> None:
        cls._delete_text(db, conversation_id)
        db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # -- queries ---------------------------------------------------------------------------

    def summaries(self, limit: int | None = None) -> list[ConversationSummary]:
        """Readable conversations (all, or the newest `limit`), most recently active first.

        Files a sync has yet to read whole are listed as their headers describe them.
        """
        with self._lock:
            pending = {cid: summary for cid, (_, summary) in self._pending.items()}
            rows = self.db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations WHERE problem IS NULL "
                "ORDER BY updated_at DESC, id DESC LIMIT ?",
                (-1 if limit is None else limit + len(pending),),
            ).fetchall()
        indexed = [_summary(row) for row in rows]
        if not pending:
            return indexed
        merged = heapq.merge(
            (summary for summary in indexed if summary.id not in pending),
            sorted(pending.values(), key=_newest_first, reverse=True),
            key=_newest_first,
            reverse=True,
        )
        return list(merged)[:limit]

    def problems(self) -> list[Problem]:
        with self._lock:
            rows = self.db.execute(
                "SELECT id, problem FROM conversations WHERE problem IS NOT NULL ORDER BY id"
            ).fetchall()
        return [Problem(self._conversations_dir / f"{cid}.json", reason) for cid, reason in rows]

    def search(self, query: str, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        """Conversations whose title or text holds every word of `query` (any case).

        While a sync catches up, conversations it has yet to read whole are found by their
        titles (`coverage` says how much of the text is searched).
        """
        hits = self._search_index(query, limit)
        with self._lock:
            pending = [summary for _, summary in self._pending.values()]
        words = [_indexable(w).casefold() for w in query.split()]
        if not pending or not words:
            return hits
        found = {hit.summary.id for hit in hits}
        hits += [
            SearchHit(summary, "")
            for summary in pending
            if summary.id not in found and all(w in summary.title.casefold() for w in words)
        ]
        hits.sort(key=lambda hit: _newest_first(hit.summary), reverse=True)
        return hits[:limit]

    def _search_index(self, query: str, limit: int) -> list[SearchHit]:
        """Search what the index holds (see `search`).

        Words of three or more characters are matched anywhere in the text through the
        trigram index, newest conversations first (the index is walked in that order and
        stops after `limit`). Shorter words in scripts without spaces between words (Chinese,
        Japanese; most Chinese words have two characters) are looked for in the text too, by
        a scan narrowed by any longer words; other short words (English "a", "to") only
        match titles, since scanning every message for them per keystroke would not stay
        instant and would match nearly everything.
        """
        words = [_indexable(w) for w in query.split()]
        if not words:
            return []
        short = [w for w in words if len(w) < TRIGRAM]
        if short and all(not w.isascii() for w in short):
            return self._scan_text(words, limit)
        if not all(len(w) >= TRIGRAM for w in words):
            return self._search_titles([w.casefold() for w in words], limit)
        with self._lock:
            found = self.db.execute(
                _SEARCH_TEXT, (words[0].lower(), " AND ".join(map(_fts_phrase, words)), limit)
            ).fetchall()
            if not found:
                return []
            keys = [key for key, _, _ in found]
            rows = self.db.execute(
                f"SELECT text_key, {_SUMMARY_COLUMNS} FROM conversations "
                f"WHERE problem IS NULL AND text_key IN ({','.join('?' * len(keys))})",
                keys,
            ).fetchall()
        summaries = {row[0]: _summary(row[1:]) for row in rows}
        hits = [
            SearchHit(summaries[key], _snippet(at, piece))
            for key, at, piece in found
            if key in summaries
        ]
        # Checkpoints move `updated_at` before the text is re-indexed: sort on the summary.
        hits.sort(key=lambda hit: hit.summary.updated_at, reverse=True)
        return hits

    def _search_titles(self, words: list[str], limit: int) -> list[SearchHit]:
        title_clause = " AND ".join("instr(folded_title, ?) > 0" for _ in words)
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations "
                f"WHERE problem IS NULL AND {title_clause} "
                "ORDER BY updated_at DESC LIMIT ?",
                (*words, limit),
            ).fetchall()
        return [SearchHit(_summary(row), "") for row in rows]

    def _scan_text(self, words: list[str], limit: int) -> list[SearchHit]:
        """Every word anywhere in the text (titles included), for words too short for the
        trigram index; longer words, if any, narrow the scan through the index first."""
        folded = [w.casefold() for w in words]
        longer = [w for w in words if len(w) >= TRIGRAM]
        short = [w for w in folded if len(w) < TRIGRAM]
        match = "message_text MATCH ? AND " if longer else ""
        parameters = [" AND ".join(map(_fts_phrase, longer))] if longer else []
        checked = folded
        if short and all(_is_short_piece(w) for w in short):
            # Only the conversations holding every short word as a piece are read, and a
            # piece is a substring of the casefolded text: those words need no check.
            match += (
                "message_text.rowid IN (SELECT rowid FROM short_pieces WHERE short_pieces MATCH ?) "
                "AND "
            )
            parameters.append(" AND ".join(map(_fts_phrase, short)))
            checked = [w for w in folded if len(w) >= TRIGRAM]
        contains = "".join("instr(casefold(message_text.text), ?) > 0 AND " for _ in checked)
        parameters += checked
        with self._lock:
            rows = self.db.execute(
                f"""
                SELECT {_SUMMARY_COLUMNS_C}, message_text.text
                FROM message_text JOIN conversations c ON c.text_key = message_text.rowid
                WHERE {match}{contains}c.problem IS NULL
                ORDER BY message_text.rowid DESC LIMIT ?
                """,
                (*parameters, limit),
            ).fetchall()
        return [SearchHit(_summary(row[:-1]), _snippet_around(row[-1], folded[0])) for row in rows]


_SEARCH_TEXT = f"""
    SELECT rowid, at, substr(body, max(1, at - {SNIPPET_BEFORE}), {SNIPPET_CHARS}) FROM (
        SELECT rowid, body, instr(lower(body), ?) AS at FROM (
            SELECT rowid, substr(text, instr(text, char(10)) + 1) AS body
            FROM message_text WHERE message_text MATCH ? ORDER BY rowid DESC LIMIT ?
        )
    )
"""
"""The newest matching conversations, and the message text around the first word.

The text's first line is the title: a match only there gives no snippet. SQLite's lower()
folds ASCII only, so a match found by case-folding other scripts also gives none.
"""
_SUMMARY_COLUMNS = "id, title, created_at, updated_at, model, message_count, read_only"
_SUMMARY_COLUMNS_C = ", ".join(f"c.{name.strip()}" for name in _SUMMARY_COLUMNS.split(","))


def _is_locked(error: sqlite3.DatabaseError) -> bool:
    """SQLITE_BUSY: another connection holds the lock this one needs ("database is locked")."""
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _make_private(database: Path) -> None:
    """The index holds the text of every message: create it readable by its owner only
    (SQLite gives the -wal and -shm files the mode of the database), and tighten files an
    older version left readable by others."""
    with contextlib.suppress(OSError):
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        with contextlib.suppress(OSError):
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)


def _newest_first(summary: ConversationSummary) -> tuple[str, str]:
    """The order of `summaries` (reversed): last active, then id."""
    return summary.updated_at, summary.id


def _header_summary(conversation_id: str, header: Header) -> ConversationSummary:
    return ConversationSummary(
        id=conversation_id,
        title=_indexable(header.title),
        created_at=_indexable(header.created_at),
        updated_at=_indexable(header.updated_at),
        model=_indexable(header.model),
        message_count=0,
        read_only=header.read_only,
    )


def _summary(row: tuple[Any, ...]) -> ConversationSummary:
    cid, title, created_at, updated_at, model, count, read_only = row
    return ConversationSummary(cid, title, created_at, updated_at, model, count, bool(read_only))


def _recency_key(updated_at: str) -> int:
    """An FTS rowid that sorts like `updated_at`: seconds since 1970 (0 if unreadable).

    Seconds, not finer: FTS5 stores the gaps between rowids in every posting list, and
    small gaps take fewer bytes (microseconds made the index a fifth bigger).
    """
    try:
        moment = datetime.fromisoformat(updated_at)
    except (TypeError, ValueError):
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _snippet(at: int, piece: str) -> str:
    """The text around a match, from the start of its line when that is near.

    `at` is where the match is in the messages (1-based, 0 if not found) and `piece` the
    text from `SNIPPET_BEFORE` characters before it.
    """
    if not at:
        return ""
    before = min(at - 1, SNIPPET_BEFORE)
    line_start = piece.rfind("\n", 0, before) + 1
    cut = "…" if line_start == 0 and at - 1 > SNIPPET_BEFORE else ""
    return cut + _one_line(piece[line_start:])


def _snippet_around(text: str, word: str, around: int = 30) -> str:
    """Message text (the title line left out) around the first `word`, on one line."""
    body = text.partition("\n")[2]
    at = body.find(word)  # most often found as it is (Chinese has no case): no casefold copy
    if at < 0:
        at = body.casefold().find(word)
    if at < 0:
        return ""
    start, end = max(0, at - around), at + len(word) + around
    return ("…" if start else "") + _one_line(body[start:end]) + ("…" if end < len(body) else "")


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _casefold(text: str | None) -> str:
    return (text or "").casefold()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _indexable(text: str) -> str:
    """SQLite functions stop at NUL, and SQLite takes UTF-8, which has no lone surrogates."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", " "))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def searchable_text(
    conversation: Conversation, attachment_text: AttachmentText | None = None
) -> str:
    """Title plus every message, alternatives included: all of it is the person's history.
    Attachments add their names, and text ones their content when `attachment_text` can
    read it (a copy that is missing or changed adds its name only)."""
    parts = [conversation.title]

    def walk(messages: list[Message]) -> None:
        for message in messages:
            parts.append(message.content)
            for attachment in message.attachments:
                parts.append(attachment.name)
                if attachment.kind == "text" and attachment_text is not None:
                    with contextlib.suppress(Exception):
                        parts.append(attachment_text(attachment))
            for branch in message.alternatives:
                walk(branch)

    walk(conversation.messages)
    return _indexable("\n".join(parts))


def _piece_character(char: str) -> bool:
    """Characters FTS5's `ascii` tokenizer keeps inside a token: ASCII letters and digits
    and every non-ASCII character."""
    return not char.isascii() or char.isalnum()


def _is_short_piece(word: str) -> bool:
    """Whether `short_pieces` holds every occurrence of `word` (a one- or two-character
    casefolded word with a non-ASCII character)."""
    return not word.isascii() and all(_piece_character(char) for char in word)


def short_pieces(text: str) -> str:
    """The distinct one- and two-character pieces of `text` a short non-ASCII word can be,
    casefolded and separated by spaces (each is one token for the `ascii` tokenizer).

    Runs of pure ASCII are skipped at C speed (`str.isascii` is constant time): short
    English words are matched in titles only.
    """
    pieces: set[str] = set()
    for run in text.casefold().split():
        if run.isascii():
            continue
        previous = ""
        for char in run:
            if not _piece_character(char):
                previous = ""
                continue
            if not char.isascii():
                pieces.add(char)
            if previous and not (previous.isascii() and char.isascii()):
                pieces.add(previous + char)
            previous = char
    return " ".join(pieces)
