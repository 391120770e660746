"""Reconcile two versions of one conversation written by two chat-tui processes.

Both processes may have added messages since they last agreed. Nothing is dropped: messages
are matched by id, a path one side extended wins over the shorter one, and where the two
diverge the other side's path is kept as an alternative of ours (the person can step to it).
"""

from __future__ import annotations

from dataclasses import replace

from chat_tui.models import Conversation, Message, activate, branches_of

_FINALITY = {"streaming": 0, "interrupted": 0, "stopped": 2, "failed": 2, "complete": 3}
"""A reply another process is still streaming looks interrupted here until it finishes."""


def merge_conversations(theirs: Conversation, ours: Conversation) -> Conversation:
    """Our metadata and visible path, with every message either side has."""
    merged = replace(
        ours,
        messages=merge_paths(theirs.messages, ours.messages),
        summary=ours.summary or theirs.summary,
    )
    merged.revision = max(theirs.revision, ours.revision)
    merged.updated_at = max(theirs.updated_at, ours.updated_at)
    return merged


def merge_paths(theirs: list[Message], ours: list[Message]) -> list[Message]:
    """Merge two paths that start at the same position; ours stays the visible one."""
    result: list[Message] = []
    index = 0
    while index < len(theirs) and index < len(ours):
        their_head, our_head = theirs[index], ours[index]
        if (
            their_head.id == our_head.id
            and not their_head.alternatives
            and not our_head.alternatives
        ):
            result.append(_merge_message(their_head, our_head))
            index += 1
            continue
        return result + _merge_versions(theirs[index:], ours[index:])
    return result + (ours[index:] or theirs[index:])


def _merge_versions(theirs: list[Message], ours: list[Message]) -> list[Message]:
    """Union of every version either side has at this position, matched by first message."""
    versions = branches_of(ours)
    position = {version[0].id: i for i, version in enumerate(versions)}
    for version in branches_of(theirs):
        mine = position.get(version[0].id)
        if mine is None:
            position[version[0].id] = len(versions)
            versions.append(version)
        else:
            ours_version = versions[mine]
            head = _merge_message(version[0], ours_version[0])
            versions[mine] = [head, *merge_paths(version[1:], ours_version[1:])]
    return activate(versions, position[ours[0].id])


def _merge_message(theirs: Message, ours: Message) -> Message:
    """One message both sides have: keep the more finished, then the longer, text.

    A reply streaming here only grows, so no copy of it on disk is ahead of it: it wins on
    length (and on a tie, ours is kept, so the live object stays in place). A copy of another
    window's reply that we adopted earlier is just as "streaming" as that window's newer
    copy; only comparing finality and length lets the newer one win. (Preferring any
    "streaming" message of ours let a stale copy overwrite the other window's finished
    reply.)
    """
    theirs_rank = (_FINALITY[theirs.status], len(theirs.content))
    ours_rank = (_FINALITY[ours.status], len(ours.content))
    return theirs if theirs_rank > ours_rank else ours
