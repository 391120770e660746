"""Run every chat-tui benchmark and print one table of figures.

    .venv/bin/python benchmarks/run.py            # the full run (about 15 minutes)
    .venv/bin/python benchmarks/run.py --quick    # tiny sizes, one run each (CI: < 30 s)
    .venv/bin/python benchmarks/run.py --only start,search

Each benchmark runs the real app against the loopback fake server
(tests/support/loopback.py), in a real pseudo-terminal (tests/support/pty.py) where the
screen matters. Every goal is a ratio of two figures measured in the same run, each the
median of several runs, because shared machines are noisy. The figures are also written as
JSON to benchmarks/results/ (not versioned); `chart.py` draws docs/performance.md's chart
from them. Quick mode only proves the benchmarks still work: its figures mean nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from harness import RESULTS, BenchmarkError, Figure, Scale, scratch

from tests.support.loopback import FakeOpenAI
from tests.support.pty import TerminalError

BENCHMARKS = {
    "start": "bench_start",
    "send": "bench_send",
    "stream": "bench_stream",
    "typing": "bench_typing",
    "history": "bench_history",
    "save": "bench_save",
    "search": "bench_search",
    "listing": "bench_listing",
}


def machine() -> dict[str, str]:
    from importlib.metadata import version

    import textual.app  # noqa: F401 (for the version)

    return {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "textual": version("textual"),
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def format_value(figure: Figure) -> str:
    value = figure.value
    if figure.unit == "×":
        return f"{value:.2f}×"
    if figure.unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if figure.unit == "ms":
        return f"{value:.1f} ms"
    if figure.unit == "%":
        return f"{value:.1f} %"
    if figure.unit == "MB":
        return f"{value:.1f} MB"
    if figure.unit == "":
        return f"{value:g}"
    return f"{value:.3g} {figure.unit}"


def format_target(figure: Figure) -> str:
    if figure.target is None:
        return ""
    target = Figure(figure.group, "", figure.target, figure.unit)
    return f"≤ {format_value(target)}"


def table(figures: list[Figure]) -> str:
    rows = [("Benchmark", "Figure", "Measured", "Goal", "")]
    for figure in figures:
        verdict = {True: "pass", False: "FAIL", None: ""}[figure.passed]
        rows.append(
            (figure.group, figure.name, format_value(figure), format_target(figure), verdict)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    details = [f"- {f.group} / {f.name}: {f.detail}" for f in figures if f.detail]
    return "\n".join(lines + (["", *details] if details else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chat-tui benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check they run")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure (median)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--output", type=Path, help="where to write the JSON results")
    args = parser.parse_args(argv)

    scale = Scale.tiny() if args.quick else Scale.full(args.runs)
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    info = machine()
    print(
        f"chat-tui benchmarks{' (quick: sizes too small to mean anything)' if args.quick else ''}"
        f" — {info['cpus']} CPUs, Python {info['python']}, Textual {info['textual']}, "
        f"{info['date']}",
        flush=True,
    )
    cache = RESULTS / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    failed: list[str] = []
    started = time.monotonic()
    fake = FakeOpenAI().start()
    try:
        with scratch() as work:
            homes = 0

            def home_of(name: str) -> Path:
                nonlocal homes
                homes += 1
                home = work / f"{homes:03d}-{name}"
                home.mkdir()
                return home

            for name in chosen:
                module = importlib.import_module(BENCHMARKS[name])
                began = time.monotonic()
                print(f"… {name}", end="", flush=True)
                try:
                    found = module.run(scale, fake, cache, home_of)
                except (BenchmarkError, TerminalError, OSError) as error:
                    failed.append(name)
                    print(f"\n{name} could not be measured: {error}", file=sys.stderr)
                    traceback.print_exc()
                else:
                    figures.extend(found)
                print(f" ({time.monotonic() - began:.0f} s)", flush=True)
                fake.replies.clear()
                fake.default_reply = None
    finally:
        fake.stop()
    print()
    print(table(figures))
    print(f"\n{len(figures)} figures in {time.monotonic() - started:.0f} s", flush=True)
    output = args.output or RESULTS / ("quick.json" if args.quick else "latest.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {"machine": info, "quick": args.quick, "figures": [f.to_dict() for f in figures]},
            indent=1,
        )
    )
    if failed:
        print(f"could not measure: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
