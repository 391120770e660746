"""The first send of a process: Enter → the request at the server.

The `openai` SDK is not imported at start-up (it costs more than the rest of the start-up),
so the first prompt of a process could wait for it. Measured as a person who wastes no time
would meet it:

- the app: a short prompt typed fast from the moment the prompt is painted, then Enter as
  soon as the last key is echoed; and a prompt pasted at that moment, then Enter as soon as
  it is shown. Each key's echo is timed too: the import must not slow the first keys down;
- `ask` with the prompt as an argument (the Enter is the shell's: launch → request), beside
  a bare interpreter importing `openai` and nothing else, launched the same way;
- `ask` with the prompt on stdin, whose end arrives at once or a while after the launch
  (a program still writing it): the end of stdin → request.

The app runs with the instruments of `instrumented.py`, which note when the SDK's import
finished and which modules each thread imported while it ran.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import (
    PROMPT_PLACEHOLDER,
    PYTHON,
    ROOT,
    BenchmarkError,
    Figure,
    Scale,
    app_env,
    chat_tui_argv,
    median,
    open_terminal,
    percentile,
)

GROUP = "First send"
TYPED = "Qzj-explain-monads-briefly"
"""Letters no other text on screen holds, and no space: each key's echo is told apart."""
KEY_GAP = 0.05
"""A fast typist: twenty keys a second."""
PASTED_LINES = [f"Line {n} of a pasted question, with words to make it longer." for n in range(12)]
PASTED_END = "qzj-end"
"""The pasted prompt's last line: on screen means the paste has been shown."""
ANSWER = "First answer arrived."
SECOND = "Qzj-and-again"
SECOND_ANSWER = "Second answer arrived."
LATE_STDIN = 2.0
"""Seconds after the launch that a slow program ends `ask`'s stdin."""
TIMEOUT = 60.0


def _wait_for_request(fake, count: int) -> float:
    """When the server had request number `count + 1` (its `at`)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if len(fake.chat_requests) > count:
            return fake.chat_requests[count].at
        time.sleep(0.002)
    raise BenchmarkError("the first prompt never reached the server")


@dataclass
class AppSend:
    """One launch of the app and its first two prompts; times in seconds."""

    send: float
    """Enter → the first request at the server."""
    second: float
    """The same for the second prompt, when nothing is left to wait for."""
    enter_after_paint: float
    sdk_after_paint: float
    """When the SDK's import had finished, after the first paint."""
    echoes: list[float]
    lags: list[float]
    """How late the event loop woke, from the first paint to Enter."""
    loop_imports: list[str]
    """Modules the event loop's thread imported from the first paint to the request."""


def app_first_send(fake, home: Path, *, paste: bool) -> AppSend:
    """Launch, send the first prompt as soon as it can be typed; return what was timed."""
    probe = home / "probe.json"
    argv = chat_tui_argv("--base-url", fake.base_url, "--model", "gpt-4o-mini", instrumented=True)
    fake.add(deltas=[ANSWER])
    count = len(fake.chat_requests)
    echoes: list[float] = []
    with open_terminal(argv, app_env(home, CHAT_TUI_BENCH_PROBE=str(probe))) as terminal:
        painted = terminal.wait_for(PROMPT_PLACEHOLDER, after=0)
        start = terminal.mark()
        if paste:
            terminal.type("\x1b[200~" + "\n".join([*PASTED_LINES, PASTED_END]) + "\x1b[201~")
            terminal.wait_for(PASTED_END, after=start)
        else:
            for n in range(len(TYPED)):
                mark = terminal.mark()
                sent = terminal.type(TYPED[n])
                echoes.append(terminal.wait_for(TYPED[: n + 1], after=mark) - sent)
                time.sleep(max(0.0, sent + KEY_GAP - time.monotonic()))
        enter = terminal.type("\r")
        arrived = _wait_for_request(fake, count)
        terminal.wait_for(ANSWER, after=start)
        # The same again, everything ready: what a send costs when nothing is waited for.
        fake.add(deltas=[SECOND_ANSWER])
        mark = terminal.mark()
        terminal.type(SECOND)
        terminal.wait_for(SECOND, after=mark)
        second_enter = terminal.type("\r")
        second = _wait_for_request(fake, count + 1) - second_enter
        terminal.wait_for(SECOND_ANSWER, after=mark)
        terminal.quit()
    record = json.loads(probe.read_text())
    ready = record["openai_ready"]
    loop_imports = [
        name
        for at, thread, name in record["imports"]
        if thread == "MainThread" and painted <= at <= arrived
    ]
    return AppSend(
        send=arrived - enter,
        second=second,
        enter_after_paint=enter - painted,
        sdk_after_paint=float("nan") if ready is None else ready - painted,
        echoes=echoes,
        lags=[lag for at, lag in record["lag"] if painted <= at <= enter],
        loop_imports=loop_imports,
    )


def ask_first_send(fake, home: Path, *, stdin_after: float | None) -> float:
    """`ask` with the prompt as an argument (`stdin_after` None), or on stdin ended that many
    seconds after the launch: seconds from the launch, or from the end of stdin, to the
    request at the server."""
    fake.add(deltas=[ANSWER])
    count = len(fake.chat_requests)
    prompt = "What is a monad?"
    args = ["ask", "--base-url", fake.base_url, "--model", "gpt-4o-mini"]
    argv = chat_tui_argv(*args, *([] if stdin_after is not None else [prompt]))
    stdin = subprocess.PIPE if stdin_after is not None else subprocess.DEVNULL
    launched = time.monotonic()
    with subprocess.Popen(
        argv, env=app_env(home), cwd=ROOT, stdin=stdin, stdout=subprocess.PIPE
    ) as process:
        start = launched
        if process.stdin is not None:
            process.stdin.write(prompt.encode())
            process.stdin.flush()
            time.sleep(max(0.0, launched + (stdin_after or 0.0) - time.monotonic()))
            start = time.monotonic()
            process.stdin.close()
        arrived = _wait_for_request(fake, count)
        assert process.stdout is not None
        output = process.stdout.read()
        process.wait(TIMEOUT)
    if ANSWER not in output.decode():
        raise BenchmarkError(f"ask did not print the answer: {output[-500:]!r}")
    return arrived - start


def bare_import() -> float:
    """Launch → `openai` imported, in a bare interpreter: the floor of `ask`'s first send."""
    launched = time.monotonic()
    subprocess.run([PYTHON, "-c", "import openai"], check=True)
    return time.monotonic() - launched


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    typed: list[AppSend] = []
    pasted: list[AppSend] = []
    argument: list[float] = []
    stdin_now: list[float] = []
    stdin_late: list[float] = []
    floor: list[float] = []
    for _ in range(scale.runs):
        typed.append(app_first_send(fake, home_of("send-typed"), paste=False))
        pasted.append(app_first_send(fake, home_of("send-pasted"), paste=True))
        floor.append(bare_import())
        argument.append(ask_first_send(fake, home_of("send-ask"), stdin_after=None))
        stdin_now.append(ask_first_send(fake, home_of("send-ask"), stdin_after=0.0))
        stdin_late.append(ask_first_send(fake, home_of("send-ask"), stdin_after=LATE_STDIN))

    def send(what: str, runs: list[AppSend]) -> Figure:
        enter = median([run.enter_after_paint for run in runs])
        ready = median([run.sdk_after_paint for run in runs])
        return Figure(
            GROUP,
            f"app: Enter → request, {what}",
            median([run.send for run in runs]),
            "s",
            target=0.1,
            samples=[run.send for run in runs],
            detail=f"Enter {enter:.2f} s after the first paint, SDK imported after {ready:.2f} s",
        )

    echoes = [echo for run in typed for echo in run.echoes]
    loop_imports = sorted({name for run in typed + pasted for name in run.loop_imports})
    return [
        send("short prompt typed from the first paint", typed),
        send("prompt pasted at the first paint", pasted),
        Figure(
            GROUP,
            "app: Enter → request, second prompt",
            median([run.second for run in typed + pasted]),
            "s",
            detail="nothing left to wait for: what sending costs",
        ),
        Figure(
            GROUP,
            "app: first keys, keystroke → echo, p95",
            percentile(echoes, 0.95),
            "s",
            detail=f"p50 {median(echoes) * 1000:.0f} ms, max {max(echoes) * 1000:.0f} ms over "
            f"{len(echoes)} keys; event loop lag from the first paint to Enter, max "
            f"{median([max(run.lags) for run in typed]) * 1000:.0f} ms (median of launches)",
        ),
        Figure(
            GROUP,
            "app: modules the event loop imported from the first paint to the request",
            float(len(loop_imports)),
            "",
            detail=", ".join(loop_imports) or "none",
        ),
        Figure(GROUP, "ask, prompt as argument: launch → request", median(argument), "s"),
        Figure(GROUP, "bare interpreter: launch → openai imported", median(floor), "s"),
        Figure(
            GROUP,
            "ask, prompt as argument: launch → request − bare import",
            median(argument) - median(floor),
            "s",
            target=0.1,
        ),
        Figure(
            GROUP,
            "ask, prompt on stdin ended at once: end → request − bare import",
            median(stdin_now) - median(floor),
            "s",
            target=0.1,
            detail=f"end → request {median(stdin_now):.3f} s",
        ),
        Figure(
            GROUP,
            f"ask, prompt on stdin ended {LATE_STDIN:g} s after launch: end → request",
            median(stdin_late),
            "s",
            target=0.1,
        ),
    ]
