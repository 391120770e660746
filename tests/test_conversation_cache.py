"""The conversations kept in memory beside the open one."""

from __future__ import annotations

from chat_tui.conversation_cache import ConversationCache
from chat_tui.models import Conversation, Message


def conversation(text: str = "hi") -> Conversation:
    return Conversation(messages=[Message(role="user", content=text)])


def test_the_last_few_left_are_kept_oldest_forgotten_first() -> None:
    cache = ConversationCache(recent=2)
    first, second, third = conversation(), conversation(), conversation()
    for left in (first, second, third):
        cache.keep_recent(left)
    assert cache.get(first.id) is None
    assert cache.take_recent(second.id) is second
    assert cache.take_recent(second.id) is None  # taken means forgotten
    assert cache.get(third.id) is third


def test_an_empty_conversation_is_not_kept() -> None:
    cache = ConversationCache()
    empty = Conversation()
    cache.keep_recent(empty)
    assert cache.get(empty.id) is None


def test_the_streaming_copy_wins_until_released() -> None:
    cache = ConversationCache()
    live, stale = conversation("live"), conversation("stale")
    stale.id = live.id
    cache.keep_recent(stale)
    cache.hold_streaming(live)
    assert cache.get(live.id) is live
    assert cache.streaming(live.id) is live
    cache.release_streaming(live.id)
    assert cache.streaming(live.id) is None
    assert cache.get(live.id) is stale
