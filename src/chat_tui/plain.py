"""`chat-tui --plain`: the line-by-line chat of the classic tutorial chatbot.

For dumb terminals, pipes and logs, where a full-screen app cannot run: a `You:` prompt, the
reply streamed after it, `exit` or end of input to leave. Same config, same saved files.
`/attach PATH` adds a file to the next message, `/attach` alone lists what is attached, and
`/detach` drops it all. `/summarise` has the model summarise the earlier messages that no
longer fit, sent in their place from then on (as the app's palette command does).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from chat_tui import console
from chat_tui.ask import no_model
from chat_tui.attachments import AttachmentError, PendingAttachment, check_message, read_attachment
from chat_tui.console import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from chat_tui.limits import PROMPT_BYTES, TooLarge, size_text
from chat_tui.safetext import display_text, one_line
from chat_tui.served_model import NoServedModel
from chat_tui.session import ChatSession, SummaryOutcome
from chat_tui.shell_tools import ShellTools, can_ask

QUIT_WORDS = frozenset({"exit", "quit", "/exit", "/quit"})
SUMMARY_WORDS = frozenset({"/summarise", "/summarize"})


def chat(session: ChatSession) -> int:
    """Run the loop until the person leaves; 1 if something could not be saved."""
    typed_here = sys.stdin.isatty()
    if typed_here:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history at the prompt)
    printer = console.StreamPrinter()
    tools = ShellTools(printer, ask=can_ask())
    attached: list[PendingAttachment] = []
    code = EXIT_OK
    with asyncio.Runner() as runner:
        try:
            runner.run(session.settle_model())
        except NoServedModel as problem:
            runner.run(session.close())
            return no_model(problem)
        _greet(session)
        try:
            while True:
                try:
                    line = _read_line(typed_here)
                except EOFError:
                    print()
                    break
                except TooLarge as error:
                    print()
                    console.error(f"a line piped to --plain {error}")
                    code = EXIT_USAGE
                    break
                if not typed_here:
                    print(display_text(line))  # piped input: show it, so the transcript reads
                if line.strip().lower() in QUIT_WORDS:
                    break
                if attachment_command(line, attached):
                    continue
                if line.strip().lower() in SUMMARY_WORDS:
                    summary_command(runner.run(session.summarise()))
                    continue
                if not line.strip() and not attached:
                    continue
                print("Assistant: ", end="", flush=True)
                try:
                    reply = runner.run(
                        session.send(
                            line if line.strip() else "", tools.hooks(), tools.approve, attached
                        )
                    )
                except AttachmentError as error:  # its copy could not be kept: not sent
                    print()
                    console.error(str(error))
                    continue
                attached = []
                printer.end_line()
                if reply.stopped:
                    print("[stopped]")
                elif reply.message.status == "failed":
                    console.error(reply.message.error or "the reply failed")
                print(flush=True)
        except KeyboardInterrupt:
            print()
        saved = runner.run(session.close())
    if not saved:
        console.error(f"the conversation was not saved: {session.save_error}")
    return code if saved else EXIT_FAILURE


def _read_line(typed_here: bool) -> str:
    """The next line, without its line break. A terminal's own line editing bounds a typed
    line; a piped one is read to `PROMPT_BYTES` at most (a pipe may never send a line end)."""
    if typed_here:
        return input("You: ")
    print("You: ", end="", flush=True)
    line = sys.stdin.buffer.readline(PROMPT_BYTES + 1)
    if not line:
        raise EOFError
    if len(line) > PROMPT_BYTES:
        raise TooLarge(f"is more than the {size_text(PROMPT_BYTES)} chat-tui reads")
    return line.decode("utf-8", errors="replace").removesuffix("\n").removesuffix("\r")


def attachment_command(line: str, attached: list[PendingAttachment]) -> bool:
    """Carry out `/attach PATH`, `/attach` or `/detach` (True), or leave the line alone."""
    command, _, argument = line.strip().partition(" ")
    if command == "/detach":
        attached.clear()
        print("Nothing attached.", flush=True)
        return True
    if command != "/attach":
        return False
    path = argument.strip()
    if len(path) > 1 and path[0] == path[-1] and path[0] in "'\"":
        path = path[1:-1]  # a path pasted with quotes (as terminals drop a file)
    if path:
        try:
            pending = read_attachment(path)
            check_message([item.attachment for item in [*attached, pending]])
        except AttachmentError as error:
            console.error(str(error))
            return True
        attached.append(pending)
    if not attached:
        print("Nothing attached. /attach PATH adds a file to your next message.", flush=True)
        return True
    for item in attached:
        attachment = item.attachment
        size = size_text(attachment.size)
        print(f"Attached: {one_line(attachment.name)} ({attachment.kind}, {size})")
    print("They go with your next message (an empty line sends them alone); /detach drops them.")
    print(flush=True)
    return True


def summary_command(outcome: SummaryOutcome) -> None:
    """Say how `/summarise` went, and print the summary it kept."""
    if outcome.nothing_earlier:
        print("Nothing earlier to summarise: the conversation still fits.")
    elif outcome.stopped:
        print("[stopped] nothing changed.")
    elif outcome.error is not None:
        console.error(f"no summary: {outcome.error}")
    elif outcome.summary is None:
        console.error("the model wrote no summary; nothing changed")
    else:
        print("Earlier messages are now sent as this summary:")
        print(display_text(outcome.summary.text))
    print(flush=True)


def _greet(session: ChatSession) -> None:
    conversation = session.conversation
    print(f"chat-tui · {one_line(conversation.model)} · type exit or press ctrl+d to leave")
    if conversation.messages:
        count = len(conversation.messages)
        print(f"Continuing “{one_line(conversation.title, 60)}” ({count} messages)")
    print(flush=True)
