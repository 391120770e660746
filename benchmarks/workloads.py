"""Deterministic inputs for the benchmarks: Markdown replies, long conversations, big stores.

Everything is generated from a fixed seed, so two runs (and two machines) measure the same
work. A *token* here is what a streaming server sends in one chunk: a word with its leading
space, a run of punctuation, or a run of whitespace (about 3.7 characters, like GPT tokens in
English prose with code).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from chat_tui.models import SCHEMA_VERSION

TOKEN = re.compile(r" ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]{1,2}|\s+")
STORE_FORMAT = "1"
"""Bump when the generated stores change, so cached copies are rebuilt."""

_WORD_TEXT = """
the of and to in is that for it as with was on be by this are or from at an not
which have has but they you we can all their will one would there more if so what
about when out up into than them only time other some could these two may then do
first any new like our way use each make well how over such after most also made
retry backoff request server client stream token reply model prompt answer question
python rust kotlin swift golang javascript typescript sql query index table column row
kubernetes docker container deployment cluster node service ingress volume secret
sourdough starter flour water salt oven bake crust crumb hydration levain proof
kyoto osaka tokyo temple garden shrine train ticket hotel ryokan autumn maple
lifetime borrow checker ownership reference mutable trait generic async await future
window function partition order frame rank lag lead aggregate cumulative average
budget invoice salary mortgage interest loan savings pension tax deduction receipt
guitar chord scale melody rhythm tempo practice metronome fingerstyle capo tuning
garden tomato basil compost seedling soil mulch prune harvest irrigation trellis
exponential jitter timeout connection latency throughput cache memory thread lock
benchmark profile optimise linear quadratic allocation garbage collector heap stack
"""
WORDS = tuple(_WORD_TEXT.split())
CJK_WORDS = list("周末北京美食推荐烤鸭火锅豆腐面条饺子包子米饭茶叶咖啡天气旅行地铁公园博物馆")

CODE_SNIPPETS = {
    "python": '''import random
import time


def retry(call, attempts=5, base=0.5):
    """Call `call` until it works, waiting longer each time."""
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionError as error:
            if attempt == attempts - 1:
                raise
            wait = base * 2**attempt + random.random() / 10
            print(f"attempt {attempt} failed ({error}); waiting {wait:.2f} s")
            time.sleep(wait)
''',
    "javascript": """async function fetchWithRetry(url, attempts = 5) {
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await fetch(url, { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return await response.json();
    } catch (error) {
      if (attempt === attempts - 1) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2 ** attempt * 250));
    }
  }
}
""",
    "sql": """SELECT customer_id,
       order_date,
       amount,
       SUM(amount) OVER (PARTITION BY customer_id ORDER BY order_date) AS running_total,
       RANK() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS size_rank
FROM orders
WHERE order_date >= DATE '2026-01-01'
ORDER BY customer_id, order_date;
""",
    "bash": """#!/usr/bin/env bash
set -euo pipefail
for host in alpha beta gamma; do
  if ! curl --fail --silent --max-time 5 "https://$host.example.com/health"; then
    echo "$host is down" >&2
  fi
done
""",
}


def tokens_of(text: str) -> list[str]:
    """Split `text` into streaming chunks; joined back they are exactly `text`."""
    pieces = TOKEN.findall(text)
    assert "".join(pieces) == text, "the tokenizer must not lose characters"
    return pieces


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    return " ".join(chosen).capitalize() + "."


def _paragraph(rng: random.Random, marker: str = "") -> str:
    text = " ".join(_sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(2, 4)))
    return f"{text} {marker}".rstrip()


@dataclass
class Reply:
    """A Markdown reply cut into tokens, with the words that prove how far it is on screen."""

    text: str
    tokens: list[str]
    markers: list[tuple[str, int]]
    """(word, index of the token that completes it): progress visible on screen."""
    last_line: str
    """A word on the last line: once it is on screen, the whole reply is."""


def markdown_reply(token_count: int, *, seed: int = 7, tag: str = "") -> Reply:
    """About `token_count` tokens of Markdown: headings, lists, tables, fenced code, quotes.

    Every paragraph and list item ends with a marker word (`mk<tag>0001`, ...) so a
    benchmark can tell how much of the reply is on screen, and the last line holds
    `end<tag>mark`.
    """
    rng = random.Random(seed)
    blocks: list[str] = []
    count = 0
    section = 0
    markers: list[str] = []

    def marker() -> str:
        word = f"mk{tag}{len(markers) + 1:04d}"
        markers.append(word)
        return f"(ref {word})"

    languages = list(CODE_SNIPPETS)
    while count < token_count - 40:
        section += 1
        kind = section % 6
        parts = [f"## {section}. {_sentence(rng, rng.randint(3, 6))[:-1]}"]
        parts.append(_paragraph(rng, marker()))
        if kind in (1, 4):
            parts.append(
                "\n".join(
                    f"- **{rng.choice(WORDS)}**: {_sentence(rng, rng.randint(5, 12))} {marker()}"
                    for _ in range(rng.randint(3, 5))
                )
            )
        if kind in (2, 5):
            language = languages[section % len(languages)]
            parts.append(f"```{language}\n{CODE_SNIPPETS[language]}```")
        if kind == 3:
            header = "| step | what | cost (ms) |\n|---|---|---:|"
            rows = "\n".join(
                f"| {n} | {rng.choice(WORDS)} {rng.choice(WORDS)} | {rng.randint(1, 900)} |"
                for n in range(1, rng.randint(4, 7))
            )
            parts.append(f"{header}\n{rows}")
        if kind == 0:
            parts.append(
                "\n".join(
                    f"{n}. {_sentence(rng, rng.randint(5, 10))} {marker()}"
                    for n in range(1, rng.randint(3, 5))
                )
            )
            parts.append(f"> {_sentence(rng, rng.randint(10, 16))}")
        block = "\n\n".join(parts)
        blocks.append(block)
        count += len(tokens_of(block + "\n\n"))
    last_line = f"end{tag}mark"
    text = "\n\n".join(blocks) + f"\n\nThat is all: {last_line}.\n"
    tokens = tokens_of(text)
    ends = []
    total = 0
    for token in tokens:
        total += len(token)
        ends.append(total)
    import bisect

    placed = []
    for word in markers:
        end = text.index(word) + len(word)
        placed.append((word, bisect.bisect_left(ends, end)))
    return Reply(text, tokens, placed, last_line)


# -- conversations and stores ----------------------------------------------------------------


def _timestamp(minutes: int) -> str:
    day, minute = divmod(minutes, 24 * 60)
    hour, minute = divmod(minute, 60)
    month, day = divmod(day, 28)
    date = f"{2024 + month // 12}-{month % 12 + 1:02d}-{day + 1:02d}"
    return f"{date}T{hour:02d}:{minute:02d}:00.000+00:00"


def conversation_data(
    cid: str, title: str, messages: int, *, seed: int, minute: int, last_words: str = ""
) -> dict:
    """A conversation file's JSON: `messages` alternating prompts and Markdown replies."""
    rng = random.Random(seed)
    items = []
    for n in range(messages):
        when = _timestamp(minute + n)
        if n % 2 == 0:
            words = rng.randint(6, 40)
            content = _sentence(rng, words)
            if rng.random() < 0.05:
                content += " " + "".join(rng.choice(CJK_WORDS) for _ in range(6))
            item = {"id": f"{cid}-{n}", "role": "user", "content": content, "created_at": when}
        else:
            paragraphs = [_paragraph(rng) for _ in range(rng.randint(1, 4))]
            if rng.random() < 0.3:
                paragraphs.insert(1, f"```python\n{CODE_SNIPPETS['python']}```")
            if rng.random() < 0.3:
                paragraphs.append("\n".join(f"- {_sentence(rng, 6)}" for _ in range(4)))
            item = {
                "id": f"{cid}-{n}",
                "role": "assistant",
                "content": "\n\n".join(paragraphs),
                "created_at": when,
                "model": "gpt-4o-mini",
            }
        item["status"] = "complete"
        items.append(item)
    if last_words and items:
        items[-1]["content"] += f"\n\n{last_words}"
    created = _timestamp(minute)
    return {
        "schema_version": SCHEMA_VERSION,
        "id": cid,
        "title": title,
        "created_at": created,
        "updated_at": _timestamp(minute + messages),
        "model": "gpt-4o-mini",
        "provider": None,
        "system_prompt": "",
        "revision": 1,
        "messages": items,
    }


def write_conversation(folder: Path, data: dict) -> Path:
    """Write a conversation the way the store does (indented UTF-8 JSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['id']}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    return path


def store_title(n: int) -> str:
    rng = random.Random(n)
    topic = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
    return f"{topic.capitalize()} #{n:05d}"


def big_store(cache: Path, conversations: int, messages: int) -> Path:
    """`conversations` files of `messages` messages each, generated once and cached.

    Returns the `conversations` directory (no index: the benchmarks build it).
    """
    folder = cache / f"store-{conversations}x{messages}-v{STORE_FORMAT}" / "conversations"
    done = folder.parent / "complete"
    if done.exists():
        return folder
    shutil.rmtree(folder.parent, ignore_errors=True)
    for n in range(conversations):
        cid = f"2024{n:06d}-bench"
        data = conversation_data(
            cid, store_title(n), messages, seed=n, minute=n * 50, last_words=f"lastof{n:05d}"
        )
        write_conversation(folder, data)
    done.write_text("ok")
    return folder


def copy_conversations(source: Path, data_root: Path) -> None:
    """Put a generated store's files where an app's data directory expects them."""
    target = data_root / "conversations"
    data_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copytree(source, target)


_INDEXED: dict[tuple[int, int], Path] = {}


def indexed_store(cache: Path, conversations: int, messages: int, home_of) -> tuple[Path, float]:
    """A home whose data directory holds the big store with its index built.

    Built once per run (the first caller pays, and learns how long the build took: the
    returned seconds; later callers get 0).
    """
    from chat_tui.store import ConversationStore

    key = (conversations, messages)
    if key in _INDEXED:
        return _INDEXED[key], 0.0
    home = home_of("big-store")
    root = home / "data" / "chat-tui"
    copy_conversations(big_store(cache, conversations, messages), root)
    store = ConversationStore(root)
    started = time.perf_counter()
    problems = store.refresh()
    built = time.perf_counter() - started
    store.close()
    if problems:
        raise RuntimeError(f"the generated store has unreadable files: {problems[:3]}")
    _INDEXED[key] = home
    return home, built
