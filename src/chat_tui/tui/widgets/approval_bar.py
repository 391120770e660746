"""The question about a tool call, above the message box: run it once, always, or not.

Not a modal: the conversation (with the call and its arguments) stays in view, and the draft
in the message box stays as it is. The bar takes the focus while it asks, and a key typed
before it was on screen and focused never answers it: such a key (typed ahead, meant for
the message box) goes to the message box instead, so the person's draft keeps it.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from chat_tui.models import ToolCall
from chat_tui.safetext import one_line
from chat_tui.tui.textual_compat import event_clock
from chat_tui.tui.widgets.tool_call import call_label

ANSWERS = ("once", "always", "deny")
"""What the bar answers: the values of `tools.approvals.Decision` (imported with the first
reply that offers tools, not at start-up)."""


class ApprovalBar(Vertical, can_focus=True):
    """Shown while a reply of the open conversation waits for the person's answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y",
            "answer('once')",
            "Allow once",
            id="tool.allow_once",
            tooltip="Run this tool call, once.",
        ),
        Binding(
            "a",
            "answer('always')",
            "Always allow",
            id="tool.allow_always",
            tooltip="Run it, and every later call of this tool without asking (saved to the "
            "server's auto_approve in config.toml).",
        ),
        Binding(
            "n,escape",
            "answer('deny')",
            "Deny",
            id="tool.deny",
            tooltip="Do not run it; the model is told you denied it.",
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.call: ToolCall | None = None
        self._answer: asyncio.Future[str] | None = None
        self._armed_at: float | None = None
        """When the question was on screen and focused: keys from before it are not
        answers."""
        self._focus_before: Widget | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="approval-question", markup=False)
        yield Static(classes="approval-arguments", markup=False)
        yield Static(classes="approval-keys", markup=False)

    @property
    def asking(self) -> bool:
        return self._answer is not None and not self._answer.done()

    @property
    def armed(self) -> bool:
        """Whether a key pressed now answers."""
        return self.asking and self._armed_at is not None

    def ask(self, call: ToolCall, answer: asyncio.Future[str], keys: str) -> None:
        """Ask about `call`; the person's answer (one of ANSWERS) goes into `answer`. `keys`
        says which keys answer (as currently bound)."""
        if answer is self._answer:
            return
        self.call, self._answer, self._armed_at = call, answer, None
        question = Content.assemble("The model asks to run ", (call_label(call), "bold"), ".")
        self.query_one(".approval-question", Static).update(question)
        self.query_one(".approval-arguments", Static).update(
            Content(one_line(call.arguments, 240) or "{}")
        )
        self.query_one(".approval-keys", Static).update(Content(keys))
        self.display = True
        focused = self.screen.focused
        if focused is not self:
            self._focus_before = focused
        self.focus()
        # Armed only once the question has been drawn with the focus on it.
        self.call_after_refresh(self._arm, answer)

    def _arm(self, answer: asyncio.Future[str]) -> None:
        # Both ask() and on_focus() schedule this; only the first may set the time, or a
        # key pressed between the two would be taken for one typed ahead.
        if answer is not self._answer or self._armed_at is not None:
            return
        if self.has_focus:
            self._armed_at = event_clock()
        else:
            self.call_after_refresh(self._arm, answer)

    def withdraw(self) -> None:
        """No question (answered, stopped, or another conversation shown): hide, and give
        the focus back where it was."""
        self.call, self._answer, self._armed_at = None, None, None
        if not self.display:
            return
        had_focus = self.has_focus
        self.display = False
        if had_focus:
            target = self._focus_before
            if target is None or not target.is_attached or not target.focusable:
                target = self.screen.query_one("#prompt")
            target.focus()
        self._focus_before = None

    def on_focus(self) -> None:
        if self.asking and self._armed_at is None:
            self.call_after_refresh(self._arm, self._answer)

    def on_blur(self) -> None:
        # Keys typed elsewhere meanwhile must not answer when the focus comes back.
        self._armed_at = None

    def on_key(self, event: events.Key) -> None:
        """A key from before the question was shown and focused is not an answer: it was
        typed ahead, for the message box, and goes there."""
        if self._armed_at is not None and event.time >= self._armed_at:
            return
        event.stop()
        event.prevent_default()
        if event.is_printable and event.character:
            self.screen.query_one("#prompt").insert(event.character)  # type: ignore[attr-defined]

    def action_answer(self, answer: str) -> None:
        if self.armed and self._answer is not None and answer in ANSWERS:
            self._answer.set_result(answer)
            self.withdraw()
