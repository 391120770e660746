"""A workaround for Textual keeping removed widgets' rendered lines alive.

`StylesCache.get_inner_outer` is an `lru_cache` on a method, so its keys hold up to 1,024
widgets' style caches, each with every line it rendered, long after the widgets are gone
(Textualize/textual#6665). Switching between long conversations grew memory by a
megabyte a switch until that bound. Clearing it costs two `Style` objects per widget on
its next paint.
"""

from __future__ import annotations


def release_style_caches() -> None:
    from textual._styles_cache import StylesCache

    cache_clear = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if cache_clear is not None:  # a Textual that fixed it may have no cache here
        cache_clear()
