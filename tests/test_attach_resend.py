"""A conversation with attachments, reopened in the app: regenerating the reply and editing
the prompt send the attachments again, read from the copies in the data directory."""

from __future__ import annotations

import base64
from pathlib import Path

from chat_tui.attachments import read_attachment
from chat_tui.models import Conversation, Message
from chat_tui.store import ConversationStore
from chat_tui.tui.widgets.prompt_input import PromptInput
from tests.support.images import png
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, settle


def seed(store: ConversationStore, tmp_path: Path) -> str:
    """A saved exchange whose prompt carries a screenshot; the original file is gone."""
    original = tmp_path / "screen.png"
    original.write_bytes(png(2, 3))
    attachment = store.attachments.put(read_attachment(original))
    original.unlink()
    conversation = Conversation(model="gpt-4o-mini")
    conversation.add_user_message("what is this?", [attachment])
    conversation.messages.append(Message(role="assistant", content="A black image.", model="m"))
    return store.save(conversation).id


def sent_image(fake: FakeOpenAI) -> bytes:
    [message] = fake.chat_requests[-1].messages
    url = message["content"][1]["image_url"]["url"]
    return base64.b64decode(url.removeprefix("data:image/png;base64,"))


async def test_regenerate_and_edit_send_the_attachments_again(
    fake: FakeOpenAI, make_app, store: ConversationStore, tmp_path: Path
) -> None:
    conversation_id = seed(store, tmp_path)
    app = make_app(open_conversation=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(fake.chat_requests) == 1
        assert sent_image(fake) == png(2, 3)
        await pilot.press("ctrl+up")
        prompt = app.query_one(PromptInput)
        prompt.load_text("and now?")
        await pilot.press("enter")
        await settle(pilot)
    assert len(fake.chat_requests) == 2
    assert fake.chat_requests[-1].messages[0]["content"][0] == {"type": "text", "text": "and now?"}
    assert sent_image(fake) == png(2, 3)
