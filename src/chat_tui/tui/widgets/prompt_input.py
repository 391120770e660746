"""The multi-line input box: Enter sends, ctrl+j (or shift+enter) starts a new line."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType

from chat_tui.limits import MESSAGE_CHARS
from chat_tui.safetext import display_text
from chat_tui.tui.messages import PathPasted, PromptSubmitted
from chat_tui.tui.textual_compat import TextAreaWithHooks


class PromptInput(TextAreaWithHooks):
    """Posts `PromptSubmitted` on Enter; blank input is not sent.

    The box is cleared by the screen once it has taken the prompt, so a prompt that cannot be
    sent yet (a reply still streaming, no server) stays where the person typed it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: checked before the text area itself would insert a line break.
        Binding(
            "enter",
            "submit",
            "Send",
            id="prompt.send",
            tooltip="Send the message.",
            show=False,
            priority=True,
        ),
        Binding(
            "ctrl+j,shift+enter",
            "newline",
            "New line",
            id="prompt.newline",
            tooltip="Start a new line in the message (shift+enter only where the terminal "
            "reports it).",
            show=False,
            priority=True,
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            placeholder="Message… (Enter to send, ctrl+j for a new line)",
            **kwargs,  # type: ignore[arg-type]
        )
        self.prompt_history: list[str] = []
        """Earlier prompts, oldest first; up/down in an empty box steps through them."""
        self._history_position: int | None = None
        self.has_attachments = False
        """Set by the screen: with attachments, Enter sends even an empty box."""
        self.drafts_loaded = 0
        """How many times another conversation's draft replaced the text (`load_draft`)."""

    def key_taken(self, event: events.Key) -> bool:
        if event.key in ("up", "down") and self._browsing_history():
            self._step_history(-1 if event.key == "up" else 1)
            return True
        self._history_position = None
        return False

    def paste_taken(self, text: str) -> bool:
        # A message longer than chat-tui keeps in one would be cut when a reply or an
        # import meets it: refuse the paste whole, and say so.
        if len(text) + len(self.text) > MESSAGE_CHARS:
            self.notify(
                f"Not pasted: the message would be {len(text) + len(self.text):,} characters "
                f"long, and one message holds at most {MESSAGE_CHARS:,}.",
                title="Paste",
                severity="warning",
            )
            return True
        # A dropped file arrives as a paste of its path: the screen offers to attach it.
        from chat_tui.typed_paths import pasted_path  # (not needed to start)

        path = pasted_path(text)
        if path is None:
            return False
        self.post_message(PathPasted(text, path))
        return True

    def insert_pasted(self, text: str) -> None:
        """Insert a paste the screen handed back (not a file after all, or declined)."""
        self.replace(self.pasted_text(text), *self.selection)

    def pasted_text(self, text: str) -> str:
        # Pasted control characters are made visible, like everywhere else text is shown.
        return display_text(text)

    # Both keys are priority bindings, which run as soon as the app sees the key: before the
    # characters typed just ahead of it (already on their way to this box) have arrived.
    # Acting from this box's own queue keeps the order: "hello⏎" typed in one burst (a fast
    # typist over ssh, a text expander) sent "he" before.

    def action_submit(self) -> None:
        self.call_later(self.submit)

    def action_newline(self) -> None:
        self.call_later(self._newline)

    def _newline(self) -> None:
        self._history_position = None
        self.insert("\n")

    def submit(self) -> None:
        text = _without_blank_edges(self.text)
        if not text and not self.has_attachments:
            return
        self._history_position = None
        self.post_message(PromptSubmitted(text, self.drafts_loaded))

    def load_draft(self, text: str) -> None:
        """Show another conversation's draft; a prompt sent from the text it replaces is
        refused when it arrives (see `PromptSubmitted.draft`)."""
        self.drafts_loaded += 1
        self.load_text(text)

    def accept(self, text: str) -> None:
        """The screen took `text`: remember it and clear the box (unless it was edited since)."""
        if text:
            self.prompt_history.append(text)
        if _without_blank_edges(self.text) == text:
            self.clear()

    def _browsing_history(self) -> bool:
        """Up/down recall history when the box is empty or already showing a recalled prompt."""
        if not self.prompt_history:
            return False
        return not self.text or (
            self._history_position is not None
            and self.text == self.prompt_history[self._history_position]
        )

    def _step_history(self, step: int) -> None:
        position = (
            len(self.prompt_history) if self._history_position is None else self._history_position
        )
        position += step
        if position >= len(self.prompt_history):
            self._history_position = None
            self.clear()
            return
        self._history_position = max(0, position)
        self.load_text(self.prompt_history[self._history_position])
        self.move_cursor(self.document.end)


def _without_blank_edges(text: str) -> str:
    """Drop blank lines before and whitespace after the prompt; keep the first indent."""
    lines = text.rstrip().split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)
