"""Every Textual message chat-tui's widgets post upward, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from textual.widget import Widget

    from chat_tui.models import Attachment


@dataclass
class PromptSubmitted(Message):
    """The person sent `text` from the input box (non-blank, unless attachments go with it)."""

    text: str
    draft: int
    """Which draft the box held (`PromptInput.drafts_loaded`): one the screen has replaced
    since, by showing another conversation, is not sent."""


@dataclass
class ConversationChosen(Message):
    """A conversation was picked in the sidebar."""

    conversation_id: str


@dataclass
class SearchChanged(Message):
    """The sidebar filter changed; the screen answers by setting the sidebar's results."""

    query: str


@dataclass
class VariantStep(Message):
    """Show the previous (-1) or next (+1) version of the message at `index`."""

    index: int
    step: int


@dataclass
class LinkActivated(Message):
    """The person clicked a link in a reply (links are never followed on their own)."""

    href: str


@dataclass
class DeleteRequested(Message):
    """The person pressed Delete on a conversation in the sidebar."""

    conversation_id: str


@dataclass
class CopyRequested(Message):
    """Put `text` (the original, unsanitised text) on the clipboard; `what` names it."""

    text: str
    what: str
    """How the person is told what was copied, e.g. "the reply", "the code block"."""


@dataclass
class CodeCopyRequested(Message):
    """A code block asks to be copied; the message view holding it knows the original text."""

    block: Widget


@dataclass
class ContentGrew(Message):
    """A message view's content grew (a streamed reply started a new chunk): the log
    re-checks which chunks are far enough off screen to fold."""


@dataclass
class ViewsReplaced(Message):
    """The log dropped every view it showed (another conversation, or this one again):
    many objects just became garbage, for the app's collector to reclaim soon."""


@dataclass
class ReplyDrawn(Message):
    """A reply's last frame is on screen: the lines painted on every frame of it can go
    once the app is idle (see `forget_painted_lines`)."""


@dataclass
class AttachmentRemoved(Message):
    """The person removed an attachment from the message they are writing."""

    attachment: Attachment


@dataclass
class AttachmentOpened(Message):
    """The person asked to see an attachment (Enter or a click on its chip)."""

    attachment: Attachment


@dataclass
class PathPasted(Message):
    """A paste into the input looks like one file's path: the screen checks the file (off the
    event loop) and offers to attach it; otherwise `text` is inserted as pasted."""

    text: str
    path: str
