"""One layout pass for each change on screen, not two.

After a layout pass Textual gives each widget its new size through `_size_updated`, which
sets the widget's `virtual_size` reactive. That reactive is declared `layout=True`, so every
widget whose size changed asks for another layout pass, and clears its ancestors'
arrangement caches on the way. While a reply streams, the growing block and every ancestor
up to the log change height on each frame: each frame was laid out twice, and the second
pass, which changed nothing, held the event loop for about 10 ms more (a key pressed then
waits for it). Textual's own scrolling path passes `layout=False`; this makes the full path
do the same. Nothing in Textual or chat-tui watches `virtual_size`, and a scrollbar that
appears or goes still asks for its layout through its own reactive.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget

_original_size_updated = Widget._size_updated


def _size_updated_settled(
    self: Widget, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
) -> bool:
    return _original_size_updated(self, size, virtual_size, container_size, layout=False)


def lay_out_once() -> None:
    """Install the change (idempotent: every app in a process shares the `Widget` class)."""
    Widget._size_updated = _size_updated_settled  # type: ignore[method-assign]
