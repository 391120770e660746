"""Every use of Textual's private names, and every workaround for a Textual bug, in one place.

Each entry names what it reaches, why, and the upstream issue where there is one. When
Textual changes under one of them, `missing_private_names()` says so and a test fails
(`tests/test_textual_compat.py`), instead of the app failing for a person; the same
tests show whether each workaround is still needed. docs/textual.md keeps the list.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from textual import events
from textual._compositor import Compositor
from textual.geometry import NULL_SIZE, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, TextArea

from chat_tui.collector import collections_deferred

if TYPE_CHECKING:
    from rich.style import Style
    from textual.app import App, ComposeResult
    from textual.content import Content
    from textual.widgets.markdown import Markdown, MarkdownBlock, MarkdownFence

PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("textual.app:App()", "_keymap"),
    ("textual.keys", "_character_to_key"),
    ("textual._time", "get_time"),
    ("textual.widget:Widget", "_size_updated"),
    ("textual._styles_cache:StylesCache", "get_inner_outer"),
    ("textual.widgets.markdown:MarkdownBlock", "_update_from_block"),
    ("textual.widgets._markdown", "MarkdownParagraph"),
    ("textual.widgets._markdown", "MarkdownBulletList"),
    ("textual.widgets._markdown", "MarkdownOrderedList"),
    ("textual.widgets._markdown", "MarkdownListItem"),
    ("textual.widgets._markdown", "MarkdownBullet"),
    ("textual.widgets._markdown", "MarkdownTable"),
    ("textual.widgets._markdown:MarkdownTable", "_get_headers_and_rows"),
    ("textual.widgets._markdown:MarkdownTable.__init__", "_headers"),
    ("textual.widgets._markdown:MarkdownTable.__init__", "_rows"),
    ("textual.widgets._markdown", "MarkdownTableContent"),
    ("textual.widgets._markdown:MarkdownTableContent.__init__", "rows"),
    ("textual.widgets._markdown:MarkdownTableContent.__init__", "last_row"),
    ("textual.widgets._markdown", "MarkdownTableCellContents"),
    ("textual.widgets.markdown:MarkdownBlock", "_copy_context"),
    ("textual.widgets.markdown:MarkdownBlock.__init__", "_blocks"),
    ("textual.widgets.markdown:MarkdownBlock.__init__", "_content"),
    ("textual.widgets.markdown:Markdown.__init__", "_last_parsed_line"),
    ("textual.widget:Widget()", "_pending_children"),
    ("textual.widget", "_RenderCache"),
    ("textual.widget:Widget()", "_render_cache"),
    ("textual.widget:Widget()", "_styles_cache"),
    ("textual.widget:Widget()", "_dirty_regions"),
    ("textual.widgets:TextArea", "_on_key"),
    ("textual.widgets:TextArea", "_on_paste"),
    ("textual._compositor:Compositor", "reflow"),
    ("textual._compositor:Compositor()", "_full_map_invalidated"),
)
"""(module[:class], attribute) of every private name used below; "Class()" looks on an
instance, for attributes set in `__init__`, and "Class.__init__" among the names that
`__init__` sets, for classes that cannot be made without an app."""


def missing_private_names() -> list[str]:
    """The private names this module relies on that the installed Textual lacks."""
    missing: list[str] = []
    for owner, attribute in PRIVATE_NAMES:
        module_name, _, class_name = owner.partition(":")
        try:
            target: object = importlib.import_module(module_name)
            if class_name:
                target = getattr(target, class_name.removesuffix("()").removesuffix(".__init__"))
                if class_name.endswith("()"):
                    target = target()  # type: ignore[operator]
                if class_name.endswith(".__init__"):
                    target = target.__init__.__code__.co_names  # type: ignore[misc]
        except (ImportError, AttributeError):
            missing.append(owner)
            continue
        found = attribute in target if isinstance(target, tuple) else hasattr(target, attribute)
        if not found:
            missing.append(f"{owner}.{attribute}")
    return missing


def app_keymap(app: App[Any]) -> Mapping[str, str]:
    """The keymap installed with `App.set_keymap`: Textual has no public getter for it."""
    return app._keymap


def character_to_key(character: str) -> str:
    """The key name Textual gives a printable character ("?" -> "question_mark")."""
    from textual.keys import _character_to_key

    return _character_to_key(character)


def event_clock() -> float:
    """Now, on the clock Textual stamps `Message.time` with (not `time.monotonic` on
    Windows), so a moment can be compared with when a key was pressed."""
    from textual._time import get_time

    return get_time()


_original_size_updated = Widget._size_updated


def _size_updated_without_relayout(
    self: Widget, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
) -> bool:
    return _original_size_updated(self, size, virtual_size, container_size, layout=False)


def lay_out_once() -> None:
    """One layout pass for each change on screen, not two.

    After a layout pass Textual gives each widget its size through `_size_updated`, which
    sets `virtual_size`, a reactive declared `layout=True`: every widget whose size changed
    asks for a second pass, which changes nothing but holds the event loop while a reply
    streams. Textual's own scrolling path passes `layout=False`; this makes the full path
    do the same (nothing watches `virtual_size`). Idempotent: it patches the `Widget` class,
    shared by every app in the process.
    """
    Widget._size_updated = _size_updated_without_relayout  # type: ignore[method-assign]


_original_reflow = Compositor.reflow


def _reflow_keeping_its_full_map(self: Compositor, parent: Widget, size: Size) -> Any:
    with collections_deferred():
        result = _original_reflow(self, parent, size)
    self._full_map_invalidated = False  # the map it just made covers every widget
    return result


def one_arrangement_per_layout() -> None:
    """A layout pass arranges the screen once, not twice.

    `Compositor.reflow` arranges every widget and keeps the result as its full map, but
    leaves the flag saying that map is out of date when a scroll had set it
    (`reflow_visible`, on every scroll of the log as it follows a reply). Right after the
    reflow, the first widget whose size changed looks up its region, finds the flag set, and
    the whole screen is arranged again: in a 2,000-message conversation, 69 arrangements
    (460 ms) for 47 layout passes of one reply; 47 (365 ms) with this, which clears the
    flag once the map is made. The arrangement also runs with Python's collections
    deferred to its end (see `collections_deferred`). Idempotent: it patches the
    `Compositor` class, once per process.
    """
    Compositor.reflow = _reflow_keeping_its_full_map  # type: ignore[method-assign]


_original_divide = Strip.divide
_original_crop_extend = Strip.crop_extend


def _divide_without_self_reference(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    kept = [cut for cut in cuts if cut <= self.cell_length]  # as Textual's divide keeps them
    if kept == [self.cell_length]:
        return [self]
    return _original_divide(self, kept)


def _crop_extend_without_self_reference(
    self: Strip, start: int, end: int, style: Style | None
) -> Strip:
    if start == 0 and end == self.cell_length:
        return self
    return _original_crop_extend(self, start, end, style)


def strips_without_self_references() -> None:
    """Rendered lines freed when they are dropped, not left for a full collection.

    `Strip.divide` at the strip's own length and `Strip.crop_extend` over its own width
    return the strip itself, and cache that answer in the strip: every such line is then a
    reference cycle, which only the cyclic collector frees. Every frame of the compositor
    makes them, so a reply streamed at a reading rate left tens of thousands of them (with
    seven caches each) for the collector's reclaims to walk and free. These return the same
    strip without caching it. Idempotent: it patches the `Strip` class, once per process.
    """
    Strip.divide = _divide_without_self_reference  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend_without_self_reference  # type: ignore[method-assign]


def release_geometry_caches() -> None:
    """Empty the memo caches of Textual's geometry (and of Rich's cell widths).

    They are `lru_cache`s of up to 4,096 entries each, keyed by regions: a reply drawn at a
    reading rate scrolls through thousands of positions and fills them, and they were most
    of the heap such a reply left behind (docs/performance.md). They refill from what the
    next frames use.
    """
    for cache_clear in _geometry_cache_clearers():
        cache_clear()


@functools.cache
def _geometry_cache_clearers() -> tuple[Callable[[], None], ...]:
    """Found once: the release runs every second while a reply streams."""
    from rich.cells import cached_cell_len
    from textual.css.scalar import Scalar
    from textual.geometry import Offset, Region, Size, Spacing

    memoised: list[object] = [cached_cell_len, Scalar.resolve]
    for kind in (Offset, Region, Size, Spacing):
        memoised.extend(vars(kind).values())
    clearers = (getattr(function, "cache_clear", None) for function in memoised)
    return tuple(clear for clear in clearers if callable(clear))


def release_style_caches() -> None:
    """Let go of removed widgets' rendered lines (Textualize/textual#6665).

    `StylesCache.get_inner_outer` is an `lru_cache` on a method, so its keys keep up to 1,024
    widgets' style caches alive, each with every line it rendered. Clearing it costs two
    `Style` objects per widget on its next paint.
    """
    from textual._styles_cache import StylesCache

    cache_clear = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if cache_clear is not None:  # a Textual that fixed it may have no cache here
        cache_clear()


def append_from_last_block(markdown: Markdown) -> None:
    """Make `markdown`'s next `append` parse again from the start of its last top-level
    block, as it does after an append.

    After `Markdown.update`, Textual parses the next append from the text's last line only:
    a paragraph that spans lines was cut to its last line, and a list to its last item.
    """
    from textual.widgets.markdown import MarkdownBlock

    blocks = list(markdown.query_children(MarkdownBlock))
    markdown._last_parsed_line = blocks[-1].source_range[0] if blocks else 0


def forget_painted_lines(widget: Widget) -> None:
    """Let `widget` and every widget under it forget the lines they have rendered.

    A widget keeps its rendered lines until it is refreshed, each with the pieces the
    compositor cut it into on every frame it was in, and every line it painted, by row: a
    tall widget the screen scrolled through (a reply drawn as it streamed, and each
    container around it) keeps them for every row it showed. Nothing is painted now (a
    repaint of the whole chat screen is one long frame): what is on the terminal stays, and
    a widget renders its lines again when Textual next paints it.
    """
    from textual.widget import _RenderCache

    for node in widget.walk_children(Widget, with_self=True):
        node._render_cache = _RenderCache(NULL_SIZE, [])
        node._styles_cache.clear()
        # Without a region marked stale, `render_line` would read the emptied cache as blank.
        node._dirty_regions.add(node.size.region)


def drop_dead_footer_watchers(footer: Footer) -> None:
    """Free the keys a footer's recompose removed (Textualize/textual#6666).

    Each `FooterKey` is bound to the footer's `compact` with `data_bind`, which leaves a
    watcher on the footer; watchers of removed widgets are pruned only when the watched value
    changes, and `compact` never does. Running its watchers prunes them.
    """
    footer.mutate_reactive(Footer.compact)


class TextAreaWithHooks(TextArea):
    """A TextArea that can take a key before the text area does, and rewrite a paste.

    Key and paste handling live in TextArea's private `_on_key` and `_on_paste`.
    """

    async def _on_key(self, event: events.Key) -> None:
        if self.key_taken(event):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        if self.paste_taken(event.text):
            event.stop()
            event.prevent_default()
            return
        event.text = self.pasted_text(event.text)
        await super()._on_paste(event)
        # Textual calls every class's _on_paste in turn unless told not to: without this,
        # TextArea inserted each paste a second time.
        event.prevent_default()

    def key_taken(self, event: events.Key) -> bool:
        """Whether this box handled `event` itself (the text area then never sees it)."""
        return False

    def pasted_text(self, text: str) -> str:
        """The text a paste inserts."""
        return text

    def paste_taken(self, text: str) -> bool:
        """Whether this box handled the paste itself (nothing is inserted)."""
        return False


def _markdown_fence_with_updates() -> type[MarkdownFence]:
    # Defined on first use: Markdown is imported only once a message is shown.
    from textual.widgets.markdown import MarkdownFence

    class FenceWithUpdates(MarkdownFence):
        """A Markdown fence told when a streamed update changed its block (its info string
        may still be growing: "```pyth"). Textual has no public hook for it."""

        async def _update_from_block(self, block: MarkdownBlock) -> None:
            await super()._update_from_block(block)
            self.block_updated()

        def block_updated(self) -> None:
            """Called after each update from a newer version of the block."""

    FenceWithUpdates.__name__ = FenceWithUpdates.__qualname__ = "MarkdownFenceWithUpdates"
    return FenceWithUpdates


def _growing_paragraph() -> type[MarkdownBlock]:
    # Defined on first use, as above.
    from textual.widgets._markdown import MarkdownParagraph

    class GrowingParagraph(MarkdownParagraph):
        """A paragraph that asks for a layout pass only when new text changes its height.

        Textual's paragraph takes a streamed update through `set_content`, which asks for a
        layout pass: one visits every widget on the screen, and while a reply streams most
        frames only add words to the last line of its last paragraph, which needs a repaint
        of that paragraph alone. (Textual exports no paragraph class to subclass.)
        """

        def set_content(self, content: Content) -> None:
            # From the size of the last layout: `content_size` looks the widget up in the
            # screen's map of every widget, which a layout pass throws away.
            outer, gutter = self.outer_size, self.styles.gutter
            width, height = outer.width - gutter.width, outer.height - gutter.height
            # (Textual measures with the same call: its styles serve as the rules mapping.)
            if (
                self.is_mounted and width and content.get_height(self.styles, width) == height  # type: ignore[arg-type]
            ):
                self._content = content
                self.update(content, layout=False)
            else:
                super().set_content(content)

    return GrowingParagraph


Signature = tuple[object, ...]
"""What a Markdown block shows: its kind, text, styles and the same of its blocks."""


def _signature(block: MarkdownBlock) -> Signature:
    content = block._content
    inner = tuple(_signature(child) for child in block._blocks)
    return (type(block), content.plain, tuple(content.spans), getattr(block, "code", None), inner)


def _lists_growing_in_place() -> tuple[type[MarkdownBlock], type[MarkdownBlock]]:
    # Defined on first use, as above.
    from textual.containers import Horizontal, Vertical
    from textual.widgets._markdown import (
        MarkdownBlock,
        MarkdownBullet,
        MarkdownBulletList,
        MarkdownListItem,
        MarkdownOrderedList,
        MarkdownParagraph,
    )

    # A mixin, not a widget class: Textual takes default CSS only from the first widget
    # class among a class's bases, and the lists' CSS must still apply.
    base = MarkdownBlock if TYPE_CHECKING else object

    class GrowsInPlace(base):  # type: ignore[valid-type,misc]
        """A list that takes a streamed update by changing what changed: its last item and
        the items after it, not by being removed and mounted again.

        Textual's lists replace themselves on every update (`_update_from_block`), so each
        frame of a reply ending in a list mounted every item again: its bullet, its
        paragraphs and the layout passes that follow.
        """

        _rows: list[Signature]
        """What each item (a row: bullet and blocks) shows, recorded when composed."""

        def compose(self) -> ComposeResult:
            self._rows = [_signature(b) for b in self._blocks if isinstance(b, MarkdownListItem)]
            yield from super().compose()

        async def _update_from_block(self, block: MarkdownBlock) -> None:
            if type(block) is not type(self) or not await self._grow_to(block):
                await super()._update_from_block(block)

        async def _grow_to(self, block: MarkdownBlock) -> bool:
            """Become `block` by updating in place; False if only a new list can."""
            rows = list(self.query_children(Horizontal))
            kept = len(rows) - 1
            if kept < 0 or not self.is_mounted or len(getattr(self, "_rows", [])) != len(rows):
                return False
            # Decided before composing `block`: composing uses up its items, and a list
            # that cannot grow is replaced by `block`, which is then composed when mounted.
            signatures = [_signature(b) for b in block._blocks if isinstance(b, MarkdownListItem)]
            if len(signatures) < len(rows) or signatures[:kept] != self._rows[:kept]:
                return False
            # Rows as the new list composes them, unmounted.
            new_rows = [_parts(row) for row in block.compose() if isinstance(row, Horizontal)]
            for row, (new_bullet, _) in zip(rows, new_rows, strict=False):  # numbers widen
                bullet = row.query_one(MarkdownBullet)
                if bullet.symbol != new_bullet.symbol:
                    bullet.symbol = new_bullet.symbol
                    # A wider number ("10." under " 9."): its width is measured again.
                    bullet.clear_cached_dimensions()
                    bullet.refresh(layout=True)
            changed = signatures[kept] != self._rows[kept]
            if changed and not _update_paragraphs(rows[kept], new_rows[kept][1]):
                await rows[kept].remove()
                await self.mount(_row(new_rows[kept]))
            if len(new_rows) > len(rows):
                await self.mount_all([_row(parts) for parts in new_rows[len(rows) :]])
            self._rows = signatures
            self._copy_context(block)
            return True

    def _parts(row: Widget) -> tuple[MarkdownBullet, list[Widget]]:
        """The bullet and blocks of a row composed but not mounted."""
        bullet, blocks = row._pending_children
        assert isinstance(bullet, MarkdownBullet)
        return bullet, list(blocks._pending_children)

    def _row(parts: tuple[MarkdownBullet, list[Widget]]) -> Horizontal:
        bullet, blocks = parts
        return Horizontal(bullet, Vertical(*blocks))

    def _update_paragraphs(row: Widget, blocks: list[Widget]) -> bool:
        """Give `row`'s paragraphs the text of `blocks`, if both are only paragraphs and
        as many; False if the item changed in any other way."""
        shown = list(row.query_one(Vertical).children)
        if len(shown) != len(blocks) or not all(
            isinstance(block, MarkdownParagraph) for block in (*shown, *blocks)
        ):
            return False
        for paragraph, new in zip(shown, blocks, strict=True):
            assert isinstance(paragraph, MarkdownBlock) and isinstance(new, MarkdownBlock)
            if _signature(paragraph) != _signature(new):
                paragraph.set_content(new._content)
        return True

    class BulletList(GrowsInPlace, MarkdownBulletList):
        pass

    class OrderedList(GrowsInPlace, MarkdownOrderedList):
        pass

    return BulletList, OrderedList


def _bullet_list() -> type[MarkdownBlock]:
    return _lists()[0]


def _ordered_list() -> type[MarkdownBlock]:
    return _lists()[1]


@functools.cache
def _lists() -> tuple[type[MarkdownBlock], type[MarkdownBlock]]:
    return _lists_growing_in_place()


def _table_growing_in_place() -> type[MarkdownBlock]:
    # Defined on first use, as above.
    from textual.widgets._markdown import (
        MarkdownBlock,
        MarkdownTable,
        MarkdownTableCellContents,
        MarkdownTableContent,
    )

    def same(a: list[Content], b: list[Content]) -> bool:
        """Whether two rows show the same (`Content` equality compares plain text only)."""
        return [(c.plain, c.spans) for c in a] == [(c.plain, c.spans) for c in b]

    def cell(content: Content, row: int, column: int) -> MarkdownTableCellContents:
        # As `MarkdownTableContent.compose` makes a body cell.
        return MarkdownTableCellContents(
            content, classes=f"row{row} cell", name=f"cell{row}.{column}"
        ).with_tooltip(content.plain)

    class TableGrowingInPlace(MarkdownTable):
        """A table that takes a streamed update by changing its last row and adding the
        rows after it, with the cells a new table would have.

        Textual's table adds streamed rows as plain `Static`s instead of its link-aware
        cells, so a streamed table was not the table the same text shows when reopened;
        making it again on each update instead mounted every cell again, every frame.
        """

        async def _update_from_block(self, block: MarkdownBlock) -> None:
            if type(block) is not type(self) or not await self._grow_to(block):
                await MarkdownBlock._update_from_block(self, block)

        async def _grow_to(self, block: MarkdownBlock) -> bool:
            """Become `block` by updating in place; False if only a new table can."""
            assert isinstance(block, MarkdownTable)
            content = next(iter(self.query_children(MarkdownTableContent)), None)
            headers, rows = block._get_headers_and_rows()
            last = max(len(self._rows) - 1, 0)  # the last row shown may have grown since
            if (
                content is None
                or not content.is_mounted
                or not same(headers, self._headers)
                or len(rows) < len(self._rows)
                or not all(same(a, b) for a, b in zip(rows[:last], self._rows, strict=False))
            ):
                return False
            if self._rows and not same(rows[last], self._rows[last]):
                shown = list(content.query_children(f".cell.row{last + 1}"))
                if len(shown) == len(rows[last]):
                    for cell_shown, new in zip(shown, rows[last], strict=True):
                        assert isinstance(cell_shown, MarkdownTableCellContents)
                        if not same([cell_shown.content], [new]):  # type: ignore[list-item]
                            cell_shown.update(new)
                            cell_shown.tooltip = new.plain
                else:
                    await content.remove_children(shown)
                    await content.mount_all(
                        [cell(c, last + 1, n) for n, c in enumerate(rows[last], 1)]
                    )
            first_new = len(self._rows)
            added = [
                cell(c, number, n)
                for number, row in enumerate(rows[first_new:], first_new + 1)
                for n, c in enumerate(row, 1)
            ]
            if added:
                await content.mount_all(added)
            self._rows = content.rows = rows
            content.last_row = len(rows)
            self._copy_context(block)
            return True

    return TableGrowingInPlace


_LAZY = {
    "MarkdownFenceWithUpdates": _markdown_fence_with_updates,
    "GrowingParagraph": _growing_paragraph,
    "BulletListGrowingInPlace": _bullet_list,
    "OrderedListGrowingInPlace": _ordered_list,
    "TableGrowingInPlace": _table_growing_in_place,
}

if TYPE_CHECKING:

    class MarkdownFenceWithUpdates(MarkdownFence):
        def block_updated(self) -> None: ...

    class GrowingParagraph(MarkdownBlock): ...

    class BulletListGrowingInPlace(MarkdownBlock): ...

    class OrderedListGrowingInPlace(MarkdownBlock): ...

    class TableGrowingInPlace(MarkdownBlock): ...

else:

    def __getattr__(name: str) -> object:
        if name in _LAZY:
            globals()[name] = _LAZY[name]()
            return globals()[name]
        raise AttributeError(name)
