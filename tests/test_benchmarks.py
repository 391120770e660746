"""The benchmarks still run: `benchmarks/run.py --quick` measures every figure.

Quick mode uses sizes too small to mean anything, so no figure is compared with its goal
here (speed goals live in the benchmarks, not in timed tests); what is checked is that every
benchmark drives the real app to the end and reports each figure it promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {
    "Cold start",
    "First send",
    "Streaming",
    "Typing while streaming",
    "Big conversations",
    "Saving",
    "Search",
    "Listing",
}


def why_not_measured(stderr: str) -> str:
    """The first lines of each benchmark's failure (its screen tail comes after them)."""
    lines = stderr.splitlines()
    reasons = [
        "\n".join(lines[n : n + 3])
        for n, line in enumerate(lines)
        if "could not be measured" in line
        or line.startswith(("harness.BenchmarkError", "tests.support.pty.TerminalError"))
    ]
    return "\n\n".join(reasons) or stderr[-3000:]


def test_the_quick_benchmark_run_measures_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "quick.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHAT_TUI_"))}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert finished.returncode == 0, why_not_measured(finished.stderr)
    assert "could not measure" not in finished.stderr
    report = json.loads(output.read_text())
    figures = report["figures"]
    assert {figure["group"] for figure in figures} == GROUPS
    for figure in figures:
        assert figure["value"] == figure["value"], figure  # measured: not NaN
        # Every figure with a goal is also in the printed table, with its verdict.
        if figure["target"] is not None:
            assert figure["name"] in finished.stdout
    assert report["machine"]["cpus"] and report["quick"] is True
    # The same reply flat out and at a reading rate: its CPU and memory, compared.
    names = [figure["name"] for figure in figures]
    for compared in ("at 100 tokens/s ÷ flat out", "stream: 100 tokens/s − flat out"):
        assert any(compared in name for name in names), compared
