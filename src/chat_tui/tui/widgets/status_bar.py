"""One line under the log: what the app is doing now, or how the last reply went."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from chat_tui.models import Usage
from chat_tui.safetext import one_line


def usage_line(usage: Usage) -> str:
    """`↑ 1,204 ↓ 356 tokens · first token 0.42 s · 48.1 tok/s` (parts the server reported)."""
    parts: list[str] = []
    if usage.prompt_tokens is not None or usage.completion_tokens is not None:
        sent = f"↑ {usage.prompt_tokens:,}" if usage.prompt_tokens is not None else ""
        got = f"↓ {usage.completion_tokens:,}" if usage.completion_tokens is not None else ""
        parts.append(f"{sent} {got} tokens".strip())
    if usage.first_token_seconds is not None:
        parts.append(f"first token {usage.first_token_seconds:.2f} s")
    rate = usage.tokens_per_second
    if rate is not None:
        parts.append(f"{rate:,.0f} tok/s" if rate >= 100 else f"{rate:.1f} tok/s")
    elif usage.duration_seconds is not None:
        parts.append(f"{usage.duration_seconds:.1f} s")
    return " · ".join(parts)


class StatusBar(Static):
    """Plain-text status; `severity` picks the colour ("info", "busy", "warning",
    "error")."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(markup=False, **kwargs)  # type: ignore[arg-type]
        self.about: str | None = None
        """What the text shown reports on, when it must go once that is over."""

    def show(self, text: str, severity: str = "info", *, about: str | None = None) -> None:
        self.about = about
        for name in ("info", "busy", "warning", "error"):
            self.set_class(name == severity, f"-{name}")
        # One line whatever the text: no layout pass (one would visit every widget on screen,
        # and a streaming reply updates this ten times a second).
        self.update(Content(one_line(text)), layout=False)
