"""`chat-tui ask`: one prompt in, one streamed reply out, saved like any other conversation."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from chat_tui import console
from chat_tui.attachments import AttachmentError, PendingAttachment, check_message, read_attachment
from chat_tui.console import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from chat_tui.limits import PROMPT_BYTES, read_at_most
from chat_tui.served_model import NoServedModel
from chat_tui.session import ChatSession
from chat_tui.shell_tools import ShellTools, can_ask


def piped_input() -> str:
    """Text piped to stdin (`git diff | chat-tui ask ...`); empty when stdin is a terminal."""
    if sys.stdin is None or sys.stdin.isatty():
        return ""
    piped = read_at_most(sys.stdin.buffer, PROMPT_BYTES)  # TooLarge past it
    return piped.decode("utf-8", errors="replace").rstrip("\n")


def compose_prompt(instruction: str | None, piped: str) -> str:
    """The instruction, a blank line, then the piped text; either one alone if that is all."""
    return "\n\n".join(part for part in (instruction, piped) if part and part.strip())


class AttachFailed(Exception):
    """A file given with `--attach` cannot be sent; `code` is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def read_attachments(paths: Sequence[str]) -> list[PendingAttachment]:
    """Every file given with `--attach`, read before anything is sent; `AttachFailed` (exit
    2, or 1 when the disk failed) for the first one that cannot be attached."""
    try:
        pending = [read_attachment(path) for path in paths]
        check_message([item.attachment for item in pending])
    except AttachmentError as error:
        raise AttachFailed(str(error), EXIT_FAILURE if error.io_error else EXIT_USAGE) from None
    return pending


async def ask(
    session: ChatSession, prompt: str, attachments: Sequence[PendingAttachment] = ()
) -> int:
    """Stream the reply to stdout (tool calls on stderr); the exit code says how it ended."""
    printer = console.StreamPrinter()
    tools = ShellTools(printer, ask=can_ask())
    try:
        await session.settle_model()
    except NoServedModel as problem:
        await session.close()
        return no_model(problem)
    try:
        try:
            reply = await session.send(prompt, tools.hooks(), tools.approve, attachments)
        except AttachmentError as error:  # the copy could not be kept: nothing was sent
            console.error(str(error))
            return EXIT_FAILURE
        printer.end_line()
    finally:
        saved = await session.close()
    message = reply.message
    if message.status == "failed":
        console.error(message.error or "the reply failed")
    if not saved:
        console.error(f"the conversation was not saved: {session.save_error}")
    if reply.stopped:
        return EXIT_INTERRUPTED
    return EXIT_OK if saved and message.status != "failed" else EXIT_FAILURE


def no_model(problem: NoServedModel) -> int:
    """Say why no model could be used (one line, then the models to choose from); the exit
    code: a usage error when the person has to choose, a failure otherwise."""
    console.error(str(problem))
    if problem.models:
        print(problem.listing, file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAILURE
