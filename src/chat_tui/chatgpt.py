"""ChatGPT's data export (`conversations.json`) read as chat-tui conversations.

A ChatGPT conversation is a tree: `mapping` holds every node (a message, or an empty root) with
its parent and children, and `current_node` ends the branch the person last saw. That branch
becomes the conversation. Branches left behind by an edited prompt or a regenerated reply become
alternatives where they split off, which is how chat-tui keeps them. System, tool, hidden and
empty messages are left out; the nodes after them are kept.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, TypeGuard, cast

from chat_tui.config import DEFAULT_MODEL
from chat_tui.models import Conversation, Message, Role, derive_title

SHOWN_CONTENT = frozenset({"text", "multimodal_text"})
"""Content types a person saw as a message; code for tools, browsing results, thoughts and
custom instructions are not part of the conversation as shown."""


def is_chatgpt_conversation(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("mapping"), dict)


def from_chatgpt(item: dict[str, Any]) -> Conversation | None:
    """The conversation, or None when nothing in it was ever shown as a message."""
    created = _iso(item.get("create_time"))
    tree = _Tree(item["mapping"], fallback_time=created or "")
    messages = tree.path(tree.roots(), tree.ancestry(item.get("current_node")))
    if not messages:
        return None
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        title = derive_title(next((m.content for m in messages if m.role == "user"), ""))
    models = [m.model for m in messages if m.model]
    created = created or messages[0].created_at
    return Conversation(
        id=stable_id(item),
        title=title.strip(),
        created_at=created,
        updated_at=_iso(item.get("update_time")) or created,
        model=models[-1] if models else DEFAULT_MODEL,
        messages=messages,
    )


def stable_id(item: dict[str, Any]) -> str:
    """The same id every time the same ChatGPT conversation is imported.

    ChatGPT's own id when the export has one, otherwise a digest of what identifies the
    conversation; prefixed with its creation time so ids sort like chat-tui's own.
    """
    source = item.get("conversation_id") or item.get("id")
    if not isinstance(source, str) or not source:
        identity = [item.get("title"), item.get("create_time"), sorted(item["mapping"])]
        source = json.dumps(identity, default=str)
    digest = hashlib.sha256(f"chatgpt:{source}".encode()).hexdigest()[:8]
    moment = _datetime(item.get("create_time"))
    stamp = moment.strftime("%Y%m%d-%H%M%S") if moment else "00000000-000000"
    return f"{stamp}-{digest}"


class _Tree:
    """The nodes of one conversation, walked without recursion along the shown branch."""

    def __init__(self, mapping: dict[str, Any], fallback_time: str) -> None:
        self.nodes = {key: node for key, node in mapping.items() if isinstance(node, dict)}
        self.fallback_time = fallback_time
        self.used: set[str] = set()
        """Nodes already placed, so a malformed file with a cycle still ends."""

    def children(self, node_id: str) -> list[str]:
        children = self.nodes[node_id].get("children")
        if not isinstance(children, list):
            return []
        return [c for c in children if isinstance(c, str) and c in self.nodes]

    def roots(self) -> list[str]:
        return [key for key, node in self.nodes.items() if node.get("parent") not in self.nodes]

    def ancestry(self, node_id: Any) -> set[str]:
        """`node_id` and every node above it: the branch the person last saw."""
        found: set[str] = set()
        while isinstance(node_id, str) and node_id in self.nodes and node_id not in found:
            found.add(node_id)
            node_id = self.nodes[node_id].get("parent")
        return found

    def path(self, candidates: list[str], shown: set[str]) -> list[Message]:
        """Messages from the first shown node among `candidates` on, following `shown` (else
        the newest child); sibling branches become alternatives of the message they replace."""
        path: list[Message] = []
        versions = self._shown_among(candidates)
        while versions:
            chosen = next((i for i, v in enumerate(versions) if v in shown), len(versions) - 1)
            self.used.add(versions[chosen])
            head = self._message(versions[chosen])
            assert head is not None  # _shown_among only returns shown nodes
            head.alternatives = [
                self.path([version], shown) for i, version in enumerate(versions) if i != chosen
            ]
            head.variant = chosen
            path.append(head)
            versions = self._shown_among(self.children(versions[chosen]))
        return path

    def _shown_among(self, candidates: list[str]) -> list[str]:
        """The shown nodes among `candidates`, looking past hidden ones to their children,
        oldest first."""
        found: list[str] = []
        stack = list(reversed(candidates))
        seen: set[str] = set()
        while stack:
            node_id = stack.pop()
            if node_id in seen or node_id in self.used:
                continue
            seen.add(node_id)
            if self._message(node_id) is not None:
                found.append(node_id)
            else:
                stack.extend(reversed(self.children(node_id)))
        order = {node_id: position for position, node_id in enumerate(found)}
        return sorted(found, key=lambda node_id: (self._time(node_id), order[node_id]))

    def _time(self, node_id: str) -> float:
        created = (self.nodes[node_id].get("message") or {}).get("create_time")
        return float(created) if _is_number(created) else 0.0

    def _message(self, node_id: str) -> Message | None:
        """The node as a chat-tui message, or None if ChatGPT did not show it as one."""
        raw = self.nodes[node_id].get("message")
        if not isinstance(raw, dict):
            return None
        role = _dict(raw.get("author")).get("role")
        metadata = _dict(raw.get("metadata"))
        content = _dict(raw.get("content"))
        if (
            role not in ("user", "assistant")
            or metadata.get("is_visually_hidden_from_conversation")
            or raw.get("recipient", "all") != "all"
            or content.get("content_type") not in SHOWN_CONTENT
        ):
            return None
        text = _text_of(content.get("parts"))
        if not text.strip():
            return None
        finish = _dict(metadata.get("finish_details")).get("type")
        model = metadata.get("model_slug") if role == "assistant" else None
        return Message(
            role=cast(Role, role),
            content=text,
            id=node_id,
            created_at=_iso(raw.get("create_time")) or self.fallback_time,
            status="stopped" if finish == "interrupted" else "complete",
            model=model if isinstance(model, str) and model else None,
        )


def _text_of(parts: Any) -> str:
    """The text of a message's parts, then an [image] line per attached picture (after the
    text, so a title derived from the prompt is its words)."""
    if not isinstance(parts, list):
        return ""
    texts: list[str] = []
    images = 0
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and "image" in str(part.get("content_type", "")):
            images += 1
    return "\n\n".join([t for t in texts if t] + ["[image]"] * images)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _datetime(value: Any) -> datetime | None:
    if not _is_number(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: Any) -> str | None:
    moment = _datetime(value)
    return moment.isoformat(timespec="milliseconds") if moment else None
