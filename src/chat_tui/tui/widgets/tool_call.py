"""A tool call under the reply that made it: server and tool, the arguments, what became of
it, and its result folded away (expand to read).

Everything here came from a model or a server: it is shown as the text it is (`display_text`,
`Content`), never as markup, and long arguments and results are cut on screen with a note
(the file keeps them whole).
"""

from __future__ import annotations

import contextlib
import json

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, Static

from chat_tui.models import ToolCall
from chat_tui.safetext import display_text, one_line, shortened

ARGUMENTS_SHOWN = 4_000
"""Characters of a call's pretty-printed arguments shown (the rest is counted)."""
RESULT_SHOWN = 20_000
"""Characters of a result shown when it is expanded (the rest is counted)."""

_STATUS: dict[str, tuple[str, str]] = {
    "pending": ("… waiting", "$text-muted"),
    "running": ("● running…", "$text-accent"),
    "done": ("✓ done", "$text-success"),
    "error": ("✗ failed", "$text-error"),
    "denied": ("⊘ denied", "$text-warning"),
    "stopped": ("■ stopped", "$text-warning"),
    "skipped": ("– not run", "$text-warning"),
}
ASKING = ("? waiting for your answer", "$text-accent")
INTERRUPTED = ("⚠ interrupted", "$text-warning")
"""A call left waiting or running in a file (chat-tui ended meanwhile, or another window is
still at it): nothing here is running it."""


def call_label(call: ToolCall) -> str:
    """`server · tool` once the name was resolved, else the name the model used."""
    if call.server and call.tool:
        return one_line(f"{call.server} · {call.tool}", 100)
    return one_line(call.name, 100) or "a tool"


def call_header(call: ToolCall, *, asking: bool = False, live: bool = True) -> Content:
    """`⚙ calc · add · ✓ done · 0.12 s`. `live`: a reply here is still settling the call."""
    if call.status in ("pending", "running") and not live:
        label, colour = INTERRUPTED
    elif asking and call.status == "pending":
        label, colour = ASKING
    else:
        label, colour = _STATUS[call.status]
    parts = [
        Content.styled("⚙ ", "$text-muted"),
        Content.styled(call_label(call), "bold"),
        Content(" · "),
        Content.styled(label, colour),
    ]
    if call.duration_seconds is not None and call.status in ("done", "error", "stopped"):
        parts.append(Content.styled(f" · {call.duration_seconds:.2f} s", "$text-muted"))
    return Content("").join(parts)


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON when they parse (they may still be arriving, or be
    broken), cut to ARGUMENTS_SHOWN; ready to show."""
    text = arguments if arguments.strip() else "{}"
    with contextlib.suppress(ValueError, RecursionError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return shortened(text, ARGUMENTS_SHOWN)


def result_title(call: ToolCall) -> str:
    size = len(call.result or "")
    what = "Error output" if call.status == "error" else "Result"
    return f"{what} · {size:,} character{'' if size == 1 else 's'}"


class ToolCallView(Vertical):
    """One call; `refresh_call` redraws it from the (shared, changing) `ToolCall`."""

    DEFAULT_CLASSES = "tool-call"

    def __init__(self, call: ToolCall) -> None:
        super().__init__()
        self.call = call
        self.asking = False
        """The person is being asked about this call right now."""
        self.live = False
        """A reply in this app is settling this call (else one still undecided or running
        was left so when chat-tui ended)."""
        self._shown_arguments: str | None = None
        self._shown_result: str | None = None
        # The parts are kept, never looked up: the reply worker redraws the call at any
        # moment, also while the log is taking this view away.
        self._header = Static(classes="call-header", markup=False)
        self._arguments = Static(classes="call-arguments", markup=False)
        self._error = Static(classes="call-error", markup=False)
        self._result_text = Static(classes="call-result-text", markup=False)
        self._result = Collapsible(
            self._result_text, title="Result", collapsed=True, classes="call-result"
        )

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._arguments
        yield self._error
        yield self._result

    def on_mount(self) -> None:
        self.refresh_call()

    def refresh_call(self) -> None:
        """Show the call as it is now (arguments and result are redrawn only if changed)."""
        call = self.call
        self._header.update(call_header(call, asking=self.asking, live=self.live))
        if call.arguments != self._shown_arguments:
            self._shown_arguments = call.arguments
            self._arguments.update(Content(pretty_arguments(call.arguments)))
        self._error.update(Content(display_text(call.error or "")))
        self._error.display = bool(call.error)
        self._result.display = call.result is not None
        if call.result is not None and call.result != self._shown_result:
            self._shown_result = call.result
            self._result.title = result_title(call)
            self._result_text.update(Content(shortened(call.result, RESULT_SHOWN)))
