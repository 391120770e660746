"""Every use of Textual's private names, and every workaround for a Textual bug, in one place.

Each entry names what it reaches, why, and the upstream issue where there is one. When
Textual changes under one of them, `missing_private_names()` says so and a test fails
(`tests/test_textual_compat.py`), instead of the app failing for a person; the same
tests show whether each workaround is still needed. docs/textual.md keeps the list.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from textual import events
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Footer, TextArea

if TYPE_CHECKING:
    from textual.app import App
    from textual.widgets.markdown import MarkdownBlock, MarkdownFence

PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("textual.app:App()", "_keymap"),
    ("textual.keys", "_character_to_key"),
    ("textual.widget:Widget", "_size_updated"),
    ("textual._styles_cache:StylesCache", "get_inner_outer"),
    ("textual.widgets.markdown:MarkdownBlock", "_update_from_block"),
    ("textual.widgets:TextArea", "_on_key"),
    ("textual.widgets:TextArea", "_on_paste"),
)
"""(module[:class], attribute) of every private name used below; "Class()" looks on an
instance, for attributes set in `__init__`."""


def missing_private_names() -> list[str]:
    """The private names this module relies on that the installed Textual lacks."""
    missing: list[str] = []
    for owner, attribute in PRIVATE_NAMES:
        module_name, _, class_name = owner.partition(":")
        try:
            target: object = importlib.import_module(module_name)
            if class_name:
                target = getattr(target, class_name.removesuffix("()"))
                if class_name.endswith("()"):
                    target = target()  # type: ignore[operator]
        except (ImportError, AttributeError):
            missing.append(owner)
            continue
        if not hasattr(target, attribute):
            missing.append(f"{owner}.{attribute}")
    return missing


def app_keymap(app: App[Any]) -> Mapping[str, str]:
    """The keymap installed with `App.set_keymap`: Textual has no public getter for it."""
    return app._keymap


def character_to_key(character: str) -> str:
    """The key name Textual gives a printable character ("?" -> "question_mark")."""
    from textual.keys import _character_to_key

    return _character_to_key(character)


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


if TYPE_CHECKING:

    class MarkdownFenceWithUpdates(MarkdownFence):
        def block_updated(self) -> None: ...

else:

    def __getattr__(name: str) -> object:
        if name == "MarkdownFenceWithUpdates":
            globals()[name] = _markdown_fence_with_updates()
            return globals()[name]
        raise AttributeError(name)
