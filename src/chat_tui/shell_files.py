"""The shell commands on saved conversations: `list`, `export`, `import`, `trash` (and
emptying it), `restore`.

Each takes the parsed arguments and returns an exit code: 0 when everything worked, 1 when
something could not be done (an unknown id, an unreadable file). They read and write the same
files as the app and need no server, so a broken config does not stop them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from chat_tui import console, exporting, importing
from chat_tui.attachments import AttachmentError
from chat_tui.console import EXIT_FAILURE, EXIT_OK
from chat_tui.index import ConversationSummary
from chat_tui.models import Conversation
from chat_tui.paths import data_dir
from chat_tui.safetext import one_line
from chat_tui.store import ConversationStore, StoreError
from chat_tui.timefmt import date_time


@contextlib.contextmanager
def _open_store() -> Iterator[ConversationStore]:
    store = ConversationStore(data_dir())
    try:
        yield store
    finally:
        store.close()


def list_conversations(args: argparse.Namespace) -> int:
    """Saved conversations, most recently active first."""
    with _open_store() as store:
        for problem in store.refresh():
            console.error(f"warning: {problem.path.name} {problem.reason} (left as it is)")
        _print_summaries(store.summaries(), as_json=args.json)
    return EXIT_OK


def list_trash(args: argparse.Namespace) -> int:
    """Deleted conversations, most recently deleted first; with `--empty` or `--purge ID`,
    delete them for good instead."""
    if args.empty or args.purge:
        return _purge(None if args.empty else args.purge)
    with _open_store() as store:
        _print_summaries(store.trash(), as_json=args.json)
    return EXIT_OK


def _purge(conversation_ids: list[str] | None) -> int:
    with _open_store() as store:
        try:
            purged = store.purge(conversation_ids)
        except StoreError as error:
            console.error(str(error))
            return EXIT_FAILURE
    for conversation_id in purged.deleted:
        print(f"deleted for good  {one_line(conversation_id)}")
    if not purged.deleted:
        print("the trash is empty")
    if purged.collected is None:
        console.error(
            "warning: attachments were kept: a conversation could not be read (see chat-tui list)"
        )
    elif purged.collected:
        count = len(purged.collected)
        copies = "copy" if count == 1 else "copies"
        print(f"removed {count} attachment {copies} no conversation refers to")
    return EXIT_OK


def restore(args: argparse.Namespace) -> int:
    """Bring a deleted conversation back from the trash."""
    with _open_store() as store:
        try:
            conversation = store.restore(args.id)
        except StoreError as error:
            console.error(str(error))
            return EXIT_FAILURE
    print(f"restored {one_line(conversation.id)}  {one_line(conversation.title)}")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    """One conversation or all of them, as Markdown or JSON, to stdout or a file."""
    with _open_store() as store:
        if args.all:
            conversations, failed = _load_all(store)
        else:
            conversations, failed = _load_one(store, args.id), False
        if not args.all and not conversations:
            return EXIT_FAILURE
        problems: list[str] = []
        embed = store.attachments if args.embed_attachments else None
        if args.format == "json":
            text = (
                exporting.conversations_to_json(conversations, embed, problems)
                if args.all
                else exporting.conversation_to_json(conversations[0], embed, problems)
            )
        else:
            text = exporting.conversations_to_markdown(conversations)
    for problem in problems:
        console.error(f"attachment not embedded: {problem}")
    if not _write(text, args.output):
        return EXIT_FAILURE
    return EXIT_FAILURE if failed or problems else EXIT_OK


def _load_one(store: ConversationStore, conversation_id: str) -> list[Conversation]:
    try:
        if not store.exists(conversation_id):
            console.error(f"no conversation {conversation_id} (see chat-tui list)")
            return []
        return [store.load(conversation_id)]
    except StoreError as error:
        console.error(str(error))
        return []


def _load_all(store: ConversationStore) -> tuple[list[Conversation], bool]:
    """Every readable conversation, oldest first; True as well if some could not be read."""
    problems = [f"{problem.path.name} {problem.reason}" for problem in store.refresh()]
    conversations: list[Conversation] = []
    for summary in reversed(store.summaries()):
        try:
            conversations.append(store.load(summary.id))
        except StoreError as error:
            problems.append(str(error))
    for problem in problems:
        console.error(f"not exported: {problem}")
    return conversations, bool(problems)


def _write(text: str, output: str | None) -> bool:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        console.error(f"cannot write {output}: {error.strerror or error}")
        return False
    return True


def import_file(args: argparse.Namespace) -> int:
    """Import every conversation in a file; print what happened to each."""
    try:
        parsed = importing.parse(importing.read_file(args.file), args.file)
    except importing.ImportFailed as error:
        console.error(str(error))
        return EXIT_FAILURE
    with _open_store() as store:
        for pending in parsed.attachments.values():
            try:
                store.attachments.put(pending)
            except AttachmentError as error:
                parsed.problems.append(str(error))
        results = [importing.save(store, conversation) for conversation in parsed.conversations]
    for result in results:
        print(
            f"{result.outcome:<9}  {one_line(result.conversation_id)}  {one_line(result.title, 60)}"
        )
        if result.problem:
            console.error(f"{result.conversation_id} not imported: {result.problem}")
    for problem in parsed.problems:
        console.error(problem)
    counts = {o: sum(r.outcome == o for r in results) for o in ("added", "updated", "unchanged")}
    summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    if parsed.empty:
        summary += f", {parsed.empty} empty skipped"
    print(summary)
    failed = parsed.problems or any(r.outcome == "failed" for r in results)
    return EXIT_FAILURE if failed else EXIT_OK


def _print_summaries(summaries: list[ConversationSummary], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "id": s.id,
                "title": s.title,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
                "model": s.model,
                "message_count": s.message_count,
            }
            for s in summaries
        ]
        sys.stdout.write(exporting.json_text(rows))
        return
    ids = [one_line(s.id) for s in summaries]
    width = max(map(len, ids), default=0)
    for shown_id, s in zip(ids, summaries, strict=True):
        title = one_line(s.title) or "(untitled)"
        when = date_time(s.updated_at)
        print(f"{shown_id:<{width}}  {when:<16}  {s.message_count:>4}  {title}")
