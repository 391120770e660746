"""`chat-tui --plain`: the line-by-line chat of the classic tutorial chatbot.

For dumb terminals, pipes and logs, where a full-screen app cannot run: a `You:` prompt, the
reply streamed after it, `exit` or end of input to leave. Same config, same saved files.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from chat_tui import console
from chat_tui.ask import no_model
from chat_tui.console import EXIT_FAILURE, EXIT_OK
from chat_tui.safetext import display_text, one_line
from chat_tui.served_model import NoServedModel
from chat_tui.session import ChatSession
from chat_tui.shell_tools import ShellTools, can_ask

QUIT_WORDS = frozenset({"exit", "quit", "/exit", "/quit"})


def chat(session: ChatSession) -> int:
    """Run the loop until the person leaves; 1 if something could not be saved."""
    typed_here = sys.stdin.isatty()
    if typed_here:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history at the prompt)
    printer = console.StreamPrinter()
    tools = ShellTools(printer, ask=can_ask())
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
                    line = input("You: ")
                except EOFError:
                    print()
                    break
                if not typed_here:
                    print(display_text(line))  # piped input: show it, so the transcript reads
                if not line.strip():
                    continue
                if line.strip().lower() in QUIT_WORDS:
                    break
                print("Assistant: ", end="", flush=True)
                reply = runner.run(session.send(line, tools.hooks(), tools.approve))
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
    return EXIT_OK if saved else EXIT_FAILURE


def _greet(session: ChatSession) -> None:
    conversation = session.conversation
    print(f"chat-tui · {one_line(conversation.model)} · type exit or press ctrl+d to leave")
    if conversation.messages:
        count = len(conversation.messages)
        print(f"Continuing “{one_line(conversation.title, 60)}” ({count} messages)")
    print(flush=True)
