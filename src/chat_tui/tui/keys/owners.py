"""The classes of chat-tui that declare key bindings, in the order the help lists them.

Named here rather than found by importing every module: a test checks that no class with
`BINDINGS` is missing. Importing this module imports every screen and widget (Markdown
among them), so it is imported only when the whole list is needed: the help, a `[keys]`
table to check.
"""

from __future__ import annotations

from textual.dom import DOMNode


def key_owners() -> list[type[DOMNode]]:
    from chat_tui.tui.app import ChatApp
    from chat_tui.tui.screens.attach import AttachmentViewer, PathInput
    from chat_tui.tui.screens.chat import ChatScreen
    from chat_tui.tui.screens.help import HelpScreen
    from chat_tui.tui.screens.link import LinkScreen
    from chat_tui.tui.screens.modals import Dialog
    from chat_tui.tui.widgets.approval_bar import ApprovalBar
    from chat_tui.tui.widgets.attachment_chips import AttachmentChip
    from chat_tui.tui.widgets.code_block import CodeFence
    from chat_tui.tui.widgets.conversation_list import ConversationList
    from chat_tui.tui.widgets.message_view import MessageView
    from chat_tui.tui.widgets.prompt_input import PromptInput
    from chat_tui.tui.widgets.sidebar import SearchBox

    return [
        ChatApp,
        ChatScreen,
        PromptInput,
        ApprovalBar,
        AttachmentChip,
        MessageView,
        CodeFence,
        SearchBox,
        ConversationList,
        Dialog,
        PathInput,
        AttachmentViewer,
        HelpScreen,
        LinkScreen,
    ]
