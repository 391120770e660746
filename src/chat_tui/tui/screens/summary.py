"""The summary of earlier messages: asking the model for one, and editing it.

The summary is written like a reply (a worker, Esc stops it, its request closed) but goes to
the conversation's `summary`, shown in the log as a note under the last message it stands
for; the messages themselves stay where they are.
"""

from __future__ import annotations

import contextlib

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static, TextArea
from textual.worker import Worker

from chat_tui.attachments import AttachmentError
from chat_tui.models import Conversation, Summary
from chat_tui.request_errors import ChatError
from chat_tui.summarising import summary_cut, write_summary
from chat_tui.tui.screens.chat_base import ChatScreenBase
from chat_tui.tui.screens.modals import Dialog


class SummaryDialog(Dialog):
    """Edit the summary's text; Save dismisses with it (empty: remove the summary)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Summary of earlier messages", classes="dialog-title")
            yield TextArea(self._text, id="summary-text", soft_wrap=True)
            yield Static(
                "Sent to the model in place of the messages it covers. Empty removes it.",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self.dismiss(self.query_one("#summary-text", TextArea).text)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class SummaryActions(ChatScreenBase):
    """The palette's "conversation: summarise earlier messages" and "conversation: edit
    summary"."""

    summary_worker: Worker[None] | None = None

    def action_summarise(self) -> None:
        conversation = self.conversation
        if conversation.read_only or self.is_streaming_in(conversation.id):
            self.status.show("Wait for the reply to end (or stop it with Esc) first.", "error")
            return
        if self.summary_worker is not None and self.summary_worker.is_running:
            return
        app = self.chat_app
        client = app.client_for(conversation.provider)
        window = app.windows.known(client, conversation.model) if conversation.model else None
        if not conversation.model or not summary_cut(conversation, window):
            self.status.show("Nothing earlier to summarise: the conversation still fits.")
            return
        self.summary_worker = self._summarise(conversation, window)

    def stop_summary(self) -> bool:
        """Esc: stop a summary being written; whether one was."""
        worker = self.summary_worker
        if worker is None or not worker.is_running:
            return False
        worker.cancel()
        return True

    @work(group="summary", exit_on_error=False, description="summarise earlier messages")
    async def _summarise(self, conversation: Conversation, window: int | None) -> None:
        client = self.chat_app.client_for(conversation.provider)
        self.status.show("Summarising earlier messages…  (Esc to stop)", "busy")

        def progress(text: str) -> None:
            if conversation is self.conversation:
                words = len(text.split())
                self.status.show(f"Summarising… {words:,} words  (Esc to stop)", "busy")

        try:
            summary = await write_summary(
                conversation,
                client,
                window,
                on_text=progress,
                attachments=self.chat_app.store.attachments,
            )
        except ChatError as error:
            self.status.show(f"No summary: {error.full_text}", "error")
            return
        except AttachmentError as error:
            self.status.show(f"No summary: {error}", "error")
            return
        except BaseException:
            with contextlib.suppress(Exception):
                self.status.show("The summary was stopped; nothing changed.")
            raise
        if summary is None:
            self.status.show("The model wrote no summary; nothing changed.", "error")
            return
        await self._keep_summary(conversation, summary)
        self.status.show("Earlier messages are now sent as this summary (it can be edited).")

    def action_edit_summary(self) -> None:
        conversation = self.conversation
        summary = conversation.summary
        if summary is None or conversation.read_only:
            self.status.show("This conversation has no summary: summarise it first.")
            return

        async def edited(text: object) -> None:
            if not isinstance(text, str):
                return
            changed = Summary(text.strip(), summary.covers, model=summary.model)
            await self._keep_summary(conversation, changed if text.strip() else None)

        self.app.push_screen(SummaryDialog(summary.text), edited)

    async def _keep_summary(self, conversation: Conversation, summary: Summary | None) -> None:
        conversation.summary = summary
        conversation.touch()
        self.chat_app.saver.request(conversation)
        if conversation is self.conversation:
            await self.mark_context()
