"""Sample data: deterministic conversations for snapshots, screenshots and tests, the clock
they are shown at, and a hostile export archive."""

from __future__ import annotations

import hashlib
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from chat_tui import limits
from chat_tui.attachments import PendingAttachment
from chat_tui.models import (
    MEDIA_TYPES,
    Attachment,
    Conversation,
    Message,
    Usage,
    derive_title,
    now_iso,
)
from chat_tui.store import ConversationStore
from tests.support.images import png

FIXED_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
"""The clock of every UI test, so relative times and snapshots are stable."""

PYTHON_REPLY = """\
Here is a small, dependency-free way to **retry** a flaky call with exponential backoff:

```python
import random
import time


def retry(call, attempts=5, base=0.5):
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(base * 2**attempt + random.random() / 10)
```

| attempt | wait (s) |
|--------:|---------:|
| 1 | 0.5 |
| 2 | 1.0 |
| 3 | 2.0 |

- Retry only errors that are **temporary** (timeouts, 429, 5xx).
- Add *jitter* so many clients do not retry in lockstep.
"""

OTHER_TITLES = [
    ("Plan a weekend in Kyoto", "2026-11-25T10:58:00.000+00:00"),
    ("Explain Rust lifetimes simply", "2026-11-24T16:20:00.000+00:00"),
    ("Sourdough starter schedule", "2026-11-22T09:00:00.000+00:00"),
    ("SQL window functions cheat sheet", "2026-11-03T18:45:00.000+00:00"),
    ("周末北京美食推荐", "2026-10-30T12:00:00.000+00:00"),
]


def _conversation(cid: str, title: str, when: str) -> Conversation:
    conversation = Conversation(id=cid, title=title, created_at=when, model="gpt-4o-mini")
    conversation.messages = [
        Message(role="user", content=title, id=f"{cid}-u", created_at=when),
        Message(
            role="assistant",
            content=f"Happy to help with: {title}.",
            id=f"{cid}-a",
            created_at=when,
            model="gpt-4o-mini",
        ),
    ]
    conversation.updated_at = when
    return conversation


def main_conversation() -> Conversation:
    when = "2026-11-25T11:57:00.000+00:00"
    conversation = Conversation(
        id="20261125-115700-retry0",
        title="Retry a flaky network call in Python",
        created_at=when,
        model="gpt-4o-mini",
    )
    conversation.messages = [
        Message(
            role="user",
            content="How do I retry a flaky network call in Python, with backoff?",
            id="retry-u1",
            created_at=when,
        ),
        Message(
            role="assistant",
            content=PYTHON_REPLY,
            id="retry-a1",
            created_at="2026-11-25T11:57:04.000+00:00",
            model="gpt-4o-mini",
            usage=Usage(
                prompt_tokens=31,
                completion_tokens=212,
                first_token_seconds=0.42,
                duration_seconds=4.8,
            ),
        ),
    ]
    conversation.updated_at = "2026-11-25T11:57:04.000+00:00"
    return conversation


UPLOAD_LOG = """\
02:00:01 INFO  upload: starting nightly backup of /srv/photos (48,213 files)
02:00:09 INFO  upload: 12.4 GB to send, 3.1 GB free on /var/spool/upload
02:00:14 ERROR upload: write /var/spool/upload/chunk-0007: no space left on device
02:00:14 WARN  upload: retrying in 30 s (attempt 1 of 3)
02:01:44 ERROR upload: giving up after 3 attempts
"""

UPLOAD_REPLY = """\
The upload stages every file in `/var/spool/upload` before sending it, and that disk is
too small: the log says **12.4 GB to send** with only **3.1 GB free**, and the write of
the seventh chunk fails with `no space left on device`. The screenshot shows the same
disk at 100 %.

Either stage less at a time, or point the spool at a larger disk:

```ini
[upload]
spool_dir = /data/spool
max_staged = 2GB
```
"""


def _sample_attachment(name: str, media_type: str, data: bytes) -> PendingAttachment:
    digest = hashlib.sha256(data).hexdigest()
    return PendingAttachment(
        Attachment(name, MEDIA_TYPES[media_type], media_type, len(data), digest), data
    )


def attachments_conversation(store: ConversationStore) -> Conversation:
    """A question with a log and a screenshot attached (their copies stored), and the
    answer: saved, indexed, and returned."""
    when, answered = "2026-11-25T11:59:00.000+00:00", "2026-11-25T11:59:06.000+00:00"
    files = [
        _sample_attachment("nightly-upload.log", "text/plain", UPLOAD_LOG.encode()),
        _sample_attachment("disk-usage.png", "image/png", png(1280, 800)),
    ]
    question = Message(
        role="user",
        content="Why does the nightly upload fail? The log and a screenshot are attached.",
        id="upload-u1",
        created_at=when,
        attachments=[store.attachments.put(pending) for pending in files],
    )
    answer = Message(
        role="assistant",
        content=UPLOAD_REPLY,
        id="upload-a1",
        created_at=answered,
        model="gpt-4o-mini",
    )
    conversation = Conversation(
        id="20261125-115900-upload",
        title="Why does the nightly upload fail?",
        created_at=when,
        model="gpt-4o-mini",
        messages=[question, answer],
    )
    conversation.updated_at = answered
    store.save(conversation)
    store.refresh()
    return conversation


def seed_sample_conversations(store: ConversationStore) -> Conversation:
    """Save the main conversation and a handful of others; return the main one."""
    for n, (title, when) in enumerate(OTHER_TITLES):
        store.save(_conversation(f"sample-{n}", title, when))
    main = main_conversation()
    store.save(main)
    store.refresh()
    return main


def seed_conversation(
    store: ConversationStore,
    cid: str,
    *texts: str,
    when: str | None = None,
    model: str = "gpt-4o-mini",
) -> Conversation:
    """Save conversation `cid` of alternating user and assistant `texts`, titled by the
    first, written and last active `when` (now when not given)."""
    when = when or now_iso()
    conversation = Conversation(id=cid, title=derive_title(texts[0]), created_at=when, model=model)
    for i, text in enumerate(texts):
        if i % 2 == 0:
            conversation.messages.append(Message(role="user", content=text, created_at=when))
        else:
            conversation.messages.append(
                Message(role="assistant", content=text, created_at=when, model=model)
            )
    conversation.updated_at = when
    store.save(conversation)
    return conversation


def stored_conversations(data_dir: Path) -> list[Conversation]:
    """Every conversation saved under `data_dir`, most recently active first."""
    store = ConversationStore(data_dir)
    try:
        store.refresh()
        return [store.load(summary.id) for summary in store.summaries()]
    finally:
        store.close()


SPACES = 64 * limits.MB
"""Spaces compress about a thousand times: a 64 KB archive of 64 MB."""


def bomb(path: Path) -> Path:
    """An archive whose conversations.json is 64 MB of spaces, followed by a picture (that
    zipfile reads into when the archive says the JSON's compressed data is longer)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("chat.html", "<html></html>")
        archive.writestr("conversations.json", b"[" + b" " * SPACES + b"]")
        archive.writestr("picture.png", os.urandom(2 * limits.MB), zipfile.ZIP_STORED)
    return path
