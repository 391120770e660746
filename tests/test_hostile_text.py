"""Text from models, people, files and file names is shown as text and nothing else.

Everywhere text is shown — the log, the sidebar, notifications and their titles, the top bar,
the status line, the dialogs — Rich/Textual markup stays literal, terminal control sequences
are made visible, and no action or hyperlink can come out of it. Links in replies open only
through a dialog that shows the address. Big, wide, right-to-left and NUL-laden text works.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import webbrowser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual import events
from textual.widgets import Markdown, Static
from textual.widgets._markdown import MarkdownBlock

from chat_tui.cli import main
from chat_tui.config import load_settings
from chat_tui.limits import MESSAGE_CHARS
from chat_tui.mdparse import reply_parser
from chat_tui.models import Conversation, Message
from chat_tui.safetext import display_text, one_line
from chat_tui.store import ConversationStore
from chat_tui.tui.app import ChatApp
from chat_tui.tui.messages import LinkActivated
from chat_tui.tui.screens.chat import ChatScreen
from chat_tui.tui.screens.link import LinkScreen
from chat_tui.tui.screens.unsaved import UnsavedScreen
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_log import MessageLog
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.status_bar import StatusBar
from tests.support.disk import file_size_limit
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    Notes,
    saved_files,
    screen_lines,
    screen_text,
    send,
    send_past_failing_saves,
    settle,
    toasts,
    type_text,
    wait_for,
)
from tests.support.sample_data import FIXED_NOW

MARKUP = "[bold]b[/] [/] [link=file:///etc/passwd]x[/link] [@click=app.quit]quit[/] [/INST]"
ESCAPES = (
    "\x1b[31mred\x1b[0m \x1b]8;;http://evil.example/\x07hyperlink\x1b]8;;\x07 "
    "\x1b]52;c;SGVsbG8=\x07clip \x07bell \x1b[2J\x1b[Hhome \x1b[5Aup \x9b31mcsi8"
)
HOSTILE = f"{MARKUP} {ESCAPES} \x00nul \u202eevil\u202c \ud83dlone 你好 مرحبا 👩‍👩‍👧"
"""Markup, escapes, NUL, a bidi override, a lone surrogate, wide and right-to-left text."""

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
SAFE_ACTIONS = {"step(-1)", "step(1)"}
"""The only click actions chat-tui itself puts in text (a message's version arrows);
links in Markdown replies add `link(...)`, which opens the link dialog."""


def assert_inert(app: ChatApp) -> None:
    """Nothing on screen can reach the terminal as a control sequence, become a hyperlink,
    or run an action that the text itself asked for."""
    for line in screen_lines(app):
        for segment in line:
            assert not _UNSAFE.search(segment.text), repr(segment.text)
            style = segment.style
            if style is None:
                continue
            assert not style.link, style.link
            action = (style.meta or {}).get("@click")
            assert action is None or action in SAFE_ACTIONS or action.startswith("link("), action


async def click_everywhere_on(pilot, app: ChatApp, needle: str) -> int:
    """Click on every place `needle` is drawn; return how many there were."""
    clicks = 0
    for y, line in enumerate(screen_text(app).splitlines()):
        for match in re.finditer(re.escape(needle), line):
            x = cell_len(line[: match.start()])
            await pilot.click(offset=(x + 1, y))
            await pilot.pause()
            clicks += 1
    return clicks


def rendered(widget: Static) -> str:
    return str(widget.render())


def markdown_text(view: MessageView) -> str:
    return "\n".join(str(block.render()) for block in view.query(MarkdownBlock))


def hostile_conversation(store: ConversationStore, text: str = HOSTILE) -> Conversation:
    conversation = Conversation(model=f"model {text}", title=text)
    conversation.messages = [
        Message(role="user", content=text),
        Message(
            role="assistant",
            content=text,
            model=f"model {text}",
            status="failed",
            error=f"error {text}",
            reasoning=f"thinking {text}",
        ),
    ]
    store.save(conversation)
    store.refresh()
    return conversation


async def test_hostile_text_is_literal_and_inert_everywhere_it_is_shown(
    fake: FakeOpenAI, make_app, store: ConversationStore, data_dir: Path, isolated_dirs: Path
) -> None:
    conversation = hostile_conversation(store)
    # A damaged file with markup in its name, and a config file with markup in a key.
    broken = "[bold]x[@click=app.quit]y[link=file:]z.json"
    (data_dir / "conversations" / broken).write_bytes(b"not json")
    config = isolated_dirs / "config" / "chat-tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('"[@click=app.quit]typo" = 1\n')
    fake.add(status=500, error_message=HOSTILE)
    app = make_app(
        load_settings(environ={}, cli={"base_url": fake.base_url, "max_retries": 0}),
        open_conversation=conversation.id,
    )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        user, reply = screen.query(MessageView)
        # The log: exactly as written, control characters made visible.
        assert rendered(user.query_one(".user-text", Static)) == display_text(HOSTILE)
        assert rendered(reply.query_one(".message-error", Static)) == display_text(
            f"error {HOSTILE}"
        )
        assert rendered(reply.query_one(".reasoning-text", Static)) == display_text(
            f"thinking {HOSTILE}"
        )
        assert display_text(f"model {HOSTILE}") in rendered(reply.query_one(".message-header"))
        body = markdown_text(reply)
        for fragment in ("[bold]b[/]", "[link=file:///etc/passwd]x[/link]", "[/INST]"):
            assert fragment in body
        assert "[@click=app.quit]quit[/]" in body and "␛]52;c;SGVsbG8=␇clip" in body
        # The top bar and the sidebar.
        assert rendered(screen.query_one("#conversation-title", Static)) == one_line(HOSTILE)
        assert rendered(screen.query_one("#conversation-model", Static)) == one_line(
            f"model {HOSTILE}"
        )
        listing = app.query_one(ConversationList)
        row = "".join(seg.text for seg in listing.render_line(0))
        assert one_line(HOSTILE)[:20] in row
        # Notifications: the damaged file's name and the config key, literally.
        shown = "\n".join(toasts(app))
        assert broken in shown and "[@click=app.quit]typo" in shown
        assert_inert(app)
        assert await click_everywhere_on(pilot, app, "[@click=app.quit]") >= 3
        assert app.is_running

        # The status line and the reply, with a server error that carries the same text.
        app.query_one(PromptInput).focus()  # the clicks above may have moved it
        await pilot.pause()
        await send(pilot, "again")
        await settle(pilot)
        assert display_text(HOSTILE)[:40] in rendered(app.query_one(StatusBar))
        failed = app.screen.query(MessageView)[-1].message
        assert HOSTILE[:20] in (failed.error or "")
        assert_inert(app)

        # A notification title, and the question before quitting, with the title in them.
        with file_size_limit(16):
            await send_past_failing_saves(pilot, "unsaved")
            assert app.saver.unsaved
            assert f"Not saved: {one_line(HOSTILE, 40)}" in "\n".join(toasts(app))
            assert_inert(app)
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert isinstance(app.screen, UnsavedScreen)
            assert one_line(HOSTILE, 60)[:40] in rendered(app.screen.query_one("#unsaved-text"))
            assert_inert(app)
            assert await click_everywhere_on(pilot, app, "[@click=app.quit]") >= 1
            assert app.is_running
            await pilot.press("escape")
            await settle(pilot)

        # The link dialog, given the same text as an address.
        app.screen.query(MessageView)[0].post_message(LinkActivated(HOSTILE))
        await pilot.pause()
        assert isinstance(app.screen, LinkScreen)
        assert rendered(app.screen.query_one("#link-address", Static)) == display_text(HOSTILE)
        assert app.screen.query_one("#open").disabled  # not a web link: copy only
        assert_inert(app)
        await click_everywhere_on(pilot, app, "[@click=app.quit]")
        assert app.is_running
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


async def test_an_imported_file_full_of_hostile_text_is_shown_literally(
    fake: FakeOpenAI, make_app, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`chat-tui import` of a file someone sent: its titles and messages are only text."""
    conversation = Conversation(id="from-elsewhere", model="m", title=HOSTILE)
    conversation.messages = [
        Message(role="user", content=HOSTILE),
        Message(role="assistant", content=HOSTILE, model=f"m {HOSTILE}"),
    ]
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(conversation.to_dict()))
    assert main(["import", str(path)]) == 0
    printed = "".join(capsys.readouterr())
    assert not _UNSAFE.search(printed.replace("\n", ""))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = app.query_one(ConversationList)
        (row,) = listing.rows  # the index keeps the title with NUL and lone halves replaced
        assert one_line(row.title).startswith(one_line(HOSTILE)[:60])
        listing.focus()
        await pilot.press("enter")
        await settle(pilot)
        user, reply = app.screen.query(MessageView)
        assert rendered(user.query_one(".user-text", Static)) == display_text(HOSTILE)
        assert "[@click=app.quit]quit[/]" in markdown_text(reply)
        assert_inert(app)
        assert await click_everywhere_on(pilot, app, "[@click=app.quit]") >= 2
        assert app.is_running


# -- links in replies ---------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 'browser' that writes the address it was asked to open to a file."""
    opened = tmp_path / "opened.txt"
    command = [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"]
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    monkeypatch.setenv("BROWSER", "")
    webbrowser.register(
        "chat-tui-test",
        None,
        webbrowser.GenericBrowser([*command, str(opened), "%s"]),
        preferred=True,
    )
    return opened


async def click_link(pilot, view: MessageView, text: str) -> None:
    for block in view.query(MarkdownBlock):
        line = str(block.render())
        if text in line:
            await pilot.click(block, offset=(cell_len(line[: line.index(text)]) + 1, 0))
            return
    raise AssertionError(f"no link {text!r}")


async def test_links_open_only_through_the_dialog_that_shows_where_they_go(
    fake: FakeOpenAI, make_app, browser: Path
) -> None:
    fake.add(
        deltas=["Read [the docs](https://docs.example.org/page?a=1) or [this](file:///etc/passwd)."]
    )
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "links please")
        await settle(pilot)
        reply = app.screen.query(MessageView)[-1]
        assert not browser.exists()  # shown, never followed by itself
        await click_link(pilot, reply, "the docs")
        await pilot.pause()
        assert isinstance(app.screen, LinkScreen)
        assert (
            rendered(app.screen.query_one("#link-address")) == "https://docs.example.org/page?a=1"
        )
        assert "docs.example.org" in rendered(app.screen.query_one("#link-where"))
        await pilot.press("escape")  # Cancel
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen) and not browser.exists()

        await click_link(pilot, reply, "the docs")
        await pilot.pause()
        await pilot.press("c")  # Copy
        await pilot.pause()
        assert app.clipboard == "https://docs.example.org/page?a=1"
        assert not browser.exists()

        await click_link(pilot, reply, "the docs")
        await pilot.pause()
        await pilot.click("#open")
        await app.workers.wait_for_complete()
        # The browser is a separate process.
        await wait_for(pilot, lambda: browser.exists() and browser.read_text(), "the browser")
        assert browser.read_text() == "https://docs.example.org/page?a=1"
        # markdown-it does not even make a link of file:// (nor javascript:) addresses.
        assert "[this](file:///etc/passwd)" in markdown_text(reply)


async def test_a_non_web_link_can_be_copied_but_not_opened(fake: FakeOpenAI, make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.post_message(LinkActivated("ssh://host/\x1b]52;c;SGk=\x07"))
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, LinkScreen)
        assert rendered(dialog.query_one("#link-address")) == "ssh://host/␛]52;c;SGk=␇"
        assert dialog.query_one("#open").disabled
        await pilot.press("o")
        await pilot.pause()
        assert app.screen is dialog  # nothing happened
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "ssh://host/]52;c;SGk="  # copied without its control characters


# -- what reaches the terminal --------------------------------------------------------------


TYPED = "你好 👋🏽 مرحبا 🇯🇵 ok"
"""Typed into a real terminal: wide characters, an emoji with a modifier, Arabic, a flag."""


def test_control_sequences_never_reach_a_real_terminal(
    fake: FakeOpenAI, data_dir: Path, chat_tui
) -> None:
    """A real chat-tui in a pseudo-terminal: the bytes it writes hold none of the reply's
    escape sequences, only their visible stand-ins; and wide text types as it should."""
    fake.add(deltas=[ESCAPES[:30], ESCAPES[30:]])
    terminal = chat_tui("--base-url", fake.base_url, size=SIZE)
    terminal.wait_for("Ask anything")
    terminal.type(f"{TYPED}\r")
    terminal.wait_for("csi8")
    assert "␛]52;c;SGVsbG8=␇clip" in terminal.screen  # shown, visibly, as text
    terminal.type("typed \x1b]52;c;QUJD\x07 escapes\r")
    terminal.wait_for("Echo: typed")
    terminal.type("\x11")
    assert terminal.wait() == 0
    output = terminal.output
    for sequence in (
        "\x1b]52;c;SGVsbG8=",  # clipboard write (OSC 52)
        "\x1b]8;;http://evil.example/",  # hyperlink (OSC 8)
        "\x1b[31mred",
        "\x07bell",
        "\x1b[2J\x1b[Hhome",
        "\x1b[5Aup",
        "\x9b31mcsi8",
    ):
        assert sequence not in output, repr(sequence)
    assert "\x1b]52;c;QUJD" not in output  # typed escapes are keys, never echoed raw
    (saved,) = saved_files(data_dir)
    assert saved["messages"][0]["content"] == TYPED
    assert saved["title"] == TYPED


# -- big, wide, right-to-left, NUL ----------------------------------------------------------


async def test_a_one_megabyte_paste_is_sent_and_saved_whole(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    pasted = "".join(f"line {n}: the quick brown fox 你好 👋\n" for n in range(30_000))[:1_000_000]
    fake.default_reply = fake.add(deltas=["got it"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste(pasted))  # as the terminal driver delivers a paste
        await pilot.pause()
        assert prompt.text == pasted
        await pilot.press("enter")
        await settle(pilot)
        assert prompt.text == ""
        assert app.screen.query(MessageView)[-1].message.content == "got it"
    assert fake.chat_requests[0].messages[-1]["content"] == pasted.rstrip()
    saved = saved_files(data_dir)[0]
    assert saved["messages"][0]["content"] == pasted.rstrip()
    assert saved["title"] == "line 0: the quick brown fox 你好 👋"


async def test_a_paste_past_the_longest_message_is_refused_whole(make_app) -> None:
    app, notes = make_app(), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        prompt = app.query_one(PromptInput)
        await type_text(pilot, "keep me")
        app.post_message(events.Paste("x" * (MESSAGE_CHARS - 3)))
        await wait_for(pilot, lambda: "Not pasted" in notes.text, "a note")
        assert prompt.text == "keep me"  # nothing of it inserted, what was typed kept
        assert f"{MESSAGE_CHARS - 3 + 7:,} characters" in notes.text
        app.post_message(events.Paste(" and this"))  # a paste that fits still goes in
        await wait_for(pilot, lambda: prompt.text == "keep me and this", "the small paste")


async def test_a_200_000_character_reply_streams_renders_and_saves(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    paragraph = ("Lorem ipsum dolor sit amet, 中文也可以，emoji 🎉 too. " * 40).strip()
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(200))[:200_000]
    fake.add_text(text, chunk=2000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "write a lot")
        await settle(pilot)
        view = app.screen.query(MessageView)[-1]
        assert (view.message.status, len(view.message.content)) == ("complete", len(text))
        sources = "".join(markdown.source for markdown in view.query(Markdown))
        assert sources == text
    assert saved_files(data_dir)[0]["messages"][-1]["content"] == text


WIDE = "你好，世界！这是一个很长的中文句子，用来检查换行是否正确。😀👩‍💻🇯🇵 " * 6


async def test_wide_text_and_emoji_type_wrap_title_and_search(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"你好世界")
        assert prompt.text == "你好世界"
        prompt.clear()
        app.post_message(events.Paste(WIDE))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        user = app.screen.query(MessageView)[0].query_one(".user-text", Static)
        width = user.content_region.width
        lines = user.render_lines(user.region.reset_offset)
        assert len(lines) > 3  # it wrapped
        for line in lines:
            assert line.cell_length <= user.region.width
        wrapped = "".join("".join(seg.text for seg in line).rstrip() for line in lines)
        assert wrapped.replace(" ", "") == WIDE.strip().replace(" ", "")
        assert width > 0
        # The sidebar title is cut to the column, on a character boundary, with an ellipsis.
        listing = app.query_one(ConversationList)
        row = "".join(seg.text for seg in listing.render_line(0))
        assert cell_len(row) == listing.scrollable_content_region.width
        assert "…" in row and "你好，世界" in row
        # Search: a two-character Chinese word finds text inside a reply, and Enter opens it.
        await pilot.press("ctrl+n")
        await send(pilot, "another topic")
        await settle(pilot)
        fake.add(deltas=["我们讨论一下北京烤鸭的做法。"])
        await send(pilot, "晚饭")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+f", *"烤鸭")
        await settle(pilot)
        assert [row.title for row in listing.rows] == ["another topic"]
        assert "烤鸭" in listing.rows[0].snippet
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.conversation.title == "another topic"


async def test_right_to_left_and_nul_survive_the_screen_the_disk_and_search(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    arabic = "مرحبا بالعالم، كيف حالك اليوم؟"
    hebrew = "שלום עולם"
    fake.add(deltas=[f"{hebrew}\x00 and NUL\x00 bytes"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(events.Paste(arabic))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        user, reply = app.screen.query(MessageView)
        assert rendered(user.query_one(".user-text", Static)) == arabic
        assert f"{hebrew}␀ and NUL␀ bytes" in markdown_text(reply)
        assert_inert(app)
        await pilot.press("ctrl+n", "ctrl+f")
        app.post_message(events.Paste("بالعالم"))
        await settle(pilot)
        assert [row.title for row in app.query_one(ConversationList).rows] == [arabic]
    saved = saved_files(data_dir)[0]
    assert saved["title"] == arabic
    assert saved["messages"][1]["content"] == f"{hebrew}\x00 and NUL\x00 bytes"


# -- property-based: arbitrary text everywhere ------------------------------------------------

FRAGMENTS = [
    "[bold]",
    "[/]",
    "[/bold]",
    "[link=file:///etc/passwd]",
    "[/link]",
    "[@click=app.quit]",
    "[/INST]",
    "[",
    "]",
    "\\[",
    "\x1b[31m",
    "\x1b]8;;http://evil.example/\x07",
    "\x1b]52;c;SGk=\x07",
    "\x1b[2J",
    "\x1b[H",
    "\x07",
    "\x00",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "\x9b",
    "\u202e",
    "\u2066",
    "\ud83d",
    "你好",
    "مرحبا",
    "👩‍👩‍👧",
    "e\u0301",
    "**",
    "`",
    "# ",
    "[x](http://a.example/)",
    "<script>",
    "&#x202e;",
]
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
TEXT = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHARACTER, max_size=8)), max_size=12
).map("".join)


@given(TEXT)
@settings(max_examples=400, deadline=None)
def test_display_text_never_lets_a_control_character_through(text: str) -> None:
    shown = display_text(text)
    assert not re.search(
        "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", shown
    )
    assert "\n" not in one_line(text) and "\t" not in one_line(text)
    shown.encode("utf-8")  # a UTF-8 terminal can take it (lone surrogates could not)


async def _render_everywhere(text: str, home: Path) -> None:
    store = ConversationStore(home / "data")
    conversation = hostile_conversation(store, text)
    app = ChatApp(
        load_settings(environ={}, cli={"base_url": "http://127.0.0.1:9/v1"}),
        store,
        clock=lambda: FIXED_NOW,
        open_conversation=conversation.id,
    )
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            user = screen.query(MessageView)[0]
            assert rendered(user.query_one(".user-text", Static)) == display_text(text)
            assert (
                rendered(screen.query_one("#conversation-title", Static)) == one_line(text)
                or not text
            )
            screen.status.show(text, "error")
            app.notify(display_text(text), title=one_line(text), markup=False)
            await pilot.pause()
            assert rendered(screen.status) == one_line(text)
            assert_inert(app)
            app.push_screen(LinkScreen(text))
            await pilot.pause()
            assert rendered(app.screen.query_one("#link-address", Static)) == display_text(text)
            assert_inert(app)
            app.push_screen(UnsavedScreen([text], text))
            await pilot.pause()
            assert_inert(app)
            assert app.is_running
    finally:
        store.close()


@given(TEXT)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_arbitrary_text_is_literal_and_inert_in_every_place_it_is_shown(text: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        asyncio.run(_render_everywhere(text, Path(home)))


CONVERSATIONS = st.builds(
    lambda title, texts, model, prompt: (title, texts, model, prompt),
    TEXT,
    st.lists(TEXT, min_size=1, max_size=4),
    TEXT,
    TEXT,
)


@given(CONVERSATIONS)
@settings(max_examples=60, deadline=None)
def test_arbitrary_text_survives_the_store_round_trip(case) -> None:
    title, texts, model, prompt = case
    with tempfile.TemporaryDirectory() as home:
        root = Path(home) / "data"
        store = ConversationStore(root)
        conversation = Conversation(title=title, model=model, system_prompt=prompt)
        for n, text in enumerate(texts):
            role = "user" if n % 2 == 0 else "assistant"
            conversation.messages.append(Message(role=role, content=text))
        store.save(conversation)
        path = root / "conversations" / f"{conversation.id}.json"
        json.loads(path.read_bytes())  # valid JSON, whatever the text
        loaded = ConversationStore(root).load(conversation.id)
        assert (loaded.title, loaded.model, loaded.system_prompt) == (title, model, prompt)
        assert [m.content for m in loaded.messages] == texts
        store.refresh()
        assert [s.id for s in store.summaries()] == [conversation.id]
        store.close()


async def test_an_emoji_split_across_frames_is_joined_and_a_lone_half_is_replaced(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    """Some servers split a character's UTF-16 pair across two JSON frames ("\\ud83d" then
    "\\ude00"). Shown and saved, it is the emoji; half a pair is U+FFFD; the next request
    (which carries this reply) is still valid JSON for the server."""
    fake.add(deltas=["smile \ud83d", "\ude00 and half \ud83d"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "emoji")
        await settle(pilot)
        reply = app.screen.query(MessageView)[-1]
        assert reply.message.content == "smile 😀 and half \ufffd"
        assert "smile 😀 and half \ufffd" in markdown_text(reply)
        await send(pilot, "next")
        await settle(pilot)
        assert app.screen.query(MessageView)[-1].message.content == "Echo: next"
    assert fake.chat_requests[-1].messages[1]["content"] == "smile 😀 and half \ufffd"
    assert saved_files(data_dir)[0]["messages"][1]["content"] == "smile 😀 and half \ufffd"


# -- Markdown nested deeper than the parser follows ---------------------------------------------

DEEP_QUOTE = "> " * 30 + "quotedeep at the bottom"
DEEP_LIST = "\n".join("  " * level + f"- item{level}" for level in range(25)) + " listdeep"
DEEP_REPLY = f"Before the quote.\n\n{DEEP_QUOTE}\n\n{DEEP_LIST}\n\nAfter the list."


async def test_markdown_nested_past_the_parsers_limit_is_still_shown(
    fake: FakeOpenAI, make_app, store: ConversationStore
) -> None:
    """Past its nesting limit the Markdown parser drops the rest of a block; the reply must
    still show every word of it, whether it streams in or is read back from disk."""
    saved = Conversation(model="gpt-4o-mini", title="Deep")
    saved.messages = [
        Message(role="user", content="deep"),
        Message(role="assistant", content=DEEP_REPLY, model="gpt-4o-mini"),
    ]
    store.save(saved)
    store.refresh()
    fake.add_text(DEEP_REPLY, chunk=7)
    app = make_app(open_conversation=saved.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for streamed in (False, True):
            if streamed:
                await send(pilot, "again")
                await settle(pilot)
            view = app.screen.query(MessageView)[-1]
            body = markdown_text(view)
            for words in ("Before the quote.", "quotedeep", "item24", "listdeep", "After"):
                assert words in body, (streamed, words)
            for word in ("quotedeep", "listdeep"):
                block = next(b for b in view.query(MarkdownBlock) if word in str(b.render()))
                app.screen.query_one(MessageLog).scroll_to_widget(block, animate=False)
                await pilot.pause()
                assert word in screen_text(app), screen_text(app)


def _parsed_text(markdown: str) -> str:
    """Every piece of text the reply parser hands to the Markdown widget."""
    pieces: list[str] = []
    for token in reply_parser().parse(markdown):
        if token.type in ("fence", "code_block"):
            pieces.append(token.content)
        for child in token.children or []:
            pieces.append(child.content)
            pieces.extend(grandchild.content for grandchild in child.children or [])
    return " ".join(pieces)


NESTED_LINE = st.tuples(
    st.lists(st.sampled_from(["> ", "- ", "* ", "1. ", "  ", "   "]), max_size=40).map("".join),
    st.booleans(),
)


@given(st.lists(NESTED_LINE, min_size=1, max_size=12))
@settings(max_examples=300, deadline=None)
def test_no_nesting_of_quotes_and_lists_hides_a_word(lines: list[tuple[str, bool]]) -> None:
    markdown = "\n".join(
        f"{prefix}word{n}" + ("\n" if blank_after else "")
        for n, (prefix, blank_after) in enumerate(lines)
    )
    shown = _parsed_text(markdown)
    for n in range(len(lines)):
        assert re.search(rf"\bword{n}\b", shown), (markdown, shown)
