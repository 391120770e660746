"""The one door to Textual's private names: every name it reaches still exists, and each
workaround is still needed by the Textual installed (when one is not, its test says so and
the workaround can go)."""

from __future__ import annotations

import functools
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Footer, Input, Markdown
from textual.widgets.markdown import MarkdownBlock

from chat_tui.tui import textual_compat
from chat_tui.tui.textual_compat import PRIVATE_NAMES, missing_private_names


def test_every_private_name_the_app_reaches_exists() -> None:
    assert missing_private_names() == []


def test_the_guard_names_what_a_new_textual_lacks(monkeypatch) -> None:
    """The check above can fail: a name that is gone is reported, with its owner."""
    monkeypatch.setattr(
        textual_compat,
        "PRIVATE_NAMES",
        (
            *PRIVATE_NAMES,
            ("textual.app:App", "_gone"),
            ("textual.no_such_module", "x"),
            ("textual.widgets.markdown:MarkdownBlock.__init__", "_gone"),
        ),
    )
    assert missing_private_names() == [
        "textual.app:App._gone",
        "textual.no_such_module",
        "textual.widgets.markdown:MarkdownBlock.__init__._gone",
    ]


def test_still_needed_textual_6665_style_caches_are_an_lru_cache() -> None:
    """textual#6665: the per-method lru_cache keeps removed widgets' lines alive."""
    from textual._styles_cache import StylesCache

    assert isinstance(StylesCache.get_inner_outer, functools._lru_cache_wrapper)


def test_still_needed_a_size_change_asks_for_a_second_layout() -> None:
    """`virtual_size` is declared layout=True, so a resized widget asks for another pass."""
    reactive = Widget.__dict__["virtual_size"]
    assert reactive._layout is True


async def test_still_needed_a_paragraph_update_asks_for_a_layout() -> None:
    """Textual's paragraph asks for a layout pass on every update, even one that keeps its
    height; `GrowingParagraph` asks only when the height changes."""

    class Growing(Markdown):
        BLOCKS: ClassVar[dict[str, type[MarkdownBlock]]] = {
            **Markdown.BLOCKS,
            "paragraph_open": textual_compat.GrowingParagraph,
        }

    class MarkdownApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Markdown("Some words.")
            yield Growing("Some words.")

    app = MarkdownApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        textuals, ours = (markdown.query_one(MarkdownBlock) for markdown in app.query(Markdown))
        asked: list[bool] = []
        for paragraph in (textuals, ours):
            paragraph.set_content(Content("Some more words."))
            asked.append(paragraph._layout_required)
            paragraph.set_content(Content("Many more words. " * 20))  # a taller paragraph
            asked.append(paragraph._layout_required)
        await pilot.pause()
        assert "Many more words." in str(ours.render())
    assert asked == [True, True, False, True]


def test_still_needed_there_is_no_public_keymap_getter() -> None:
    assert not hasattr(App, "keymap")


async def test_still_needed_textual_6666_a_recomposed_footer_keeps_its_keys_watchers() -> None:
    """Without the workaround each recompose leaves the removed keys' watchers behind; with
    it they are pruned."""

    class FooterApp(App[None]):
        BINDINGS: ClassVar[list[BindingType]] = [("f2", "bell", "Ring"), ("f3", "bell", "Again")]

        def compose(self) -> ComposeResult:
            yield Input()
            yield Input()
            yield Footer()

    def compact_watchers(footer: Footer) -> int:
        return len(getattr(footer, "__watchers", {}).get("compact", []))

    app = FooterApp()
    async with app.run_test() as pilot:
        footer = app.query_one(Footer)
        await pilot.pause()
        first = compact_watchers(footer)
        for _ in range(3):
            footer.refresh(recompose=True)
            await pilot.pause()
        piled_up = compact_watchers(footer)
        textual_compat.drop_dead_footer_watchers(footer)
        pruned = compact_watchers(footer)
    assert 0 < first < piled_up
    assert pruned <= first


def _freed_only_by_the_collector(make_lines) -> list[object]:
    """The strips that `make_lines` leaves which only the cyclic collector can free."""
    import gc

    from rich.segment import Segment
    from textual.strip import Strip

    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        make_lines(Strip([Segment("a line")], 6))
        gc.collect()
        return [thing for thing in gc.garbage if isinstance(thing, Strip)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_still_needed_a_strip_divided_or_cropped_whole_references_itself() -> None:
    """Textual caches the strip itself in the strip: a cycle, every line of every frame."""
    divide = textual_compat._original_divide
    crop_extend = textual_compat._original_crop_extend
    assert _freed_only_by_the_collector(lambda strip: divide(strip, [6])) != []
    assert _freed_only_by_the_collector(lambda strip: crop_extend(strip, 0, 6, None)) != []


def test_strips_divided_or_cropped_whole_are_freed_when_dropped() -> None:
    from rich.segment import Segment
    from textual.strip import Strip

    textual_compat.strips_without_self_references()
    assert _freed_only_by_the_collector(lambda strip: strip.divide([6])) == []
    assert _freed_only_by_the_collector(lambda strip: strip.crop_extend(0, 6, None)) == []
    strip = Strip([Segment("a line")], 6)
    assert strip.divide([6]) == [strip]
    assert strip.crop_extend(0, 6, None) is strip
    assert [part.text for part in strip.divide([2, 6])] == ["a ", "line"]
    assert strip.crop_extend(2, 8, None).text == "line  "


class ScrolledColumn(App[None]):
    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll
        from textual.widgets import Static

        with VerticalScroll():
            for n in range(60):
                yield Static(f"line {n}")


async def _arrangements_of_a_layout_after_a_scroll(reflow) -> int:
    """How many times the screen is arranged by a layout pass that follows a scroll, when a
    widget off screen then looks up its size (as a resized one does)."""
    app = ScrolledColumn()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        compositor.reflow_visible(app.screen, app.screen.size)  # a scroll
        arranged: list[bool] = []
        arrange_root = compositor._arrange_root

        def counted(*args: object, **kwargs: object) -> object:
            arranged.append(True)
            return arrange_root(*args, **kwargs)

        compositor._arrange_root = counted
        reflow(compositor, app.screen, app.screen.size)
        app.query("Static").last().size  # noqa: B018 (off screen: looks up its region)
        return len(arranged)


async def test_still_needed_a_reflow_after_a_scroll_leaves_its_full_map_out_of_date() -> None:
    # The reflow arranges the screen, and the widget's look-up arranges it again.
    reflow = textual_compat._original_reflow
    assert await _arrangements_of_a_layout_after_a_scroll(reflow) == 2


async def test_a_layout_pass_arranges_the_screen_once() -> None:
    textual_compat.one_arrangement_per_layout()
    assert (
        await _arrangements_of_a_layout_after_a_scroll(textual_compat._reflow_keeping_its_full_map)
        == 1
    )
