"""Draw the performance chart of docs/performance.md from a benchmark run's JSON results.

    .venv/bin/python benchmarks/chart.py [benchmarks/results/latest.json] [-o FILE.svg]

One bar per goal: the measured figure as a share of the goal, so every goal reads on one
scale (the line at 100 % is the goal; shorter is better). Plain SVG written by hand: no
plotting library to install for one picture.
"""

from __future__ import annotations

import argparse
import json
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROW = 26
LABEL = 540
BAR = 380
SCALE_MAX = 2.0
"""The bar area spans 0–200 % of the goal; anything beyond is drawn cut, with its figure."""
PASS, FAIL = "#2e9e5b", "#d0473c"


def chart(results: dict) -> str:
    goals = [f for f in results["figures"] if f["target"] is not None]
    machine = results["machine"]
    height = 70 + ROW * len(goals) + 30
    width = LABEL + BAR + 90
    x100 = LABEL + BAR / SCALE_MAX
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<text x="10" y="24" font-size="16" font-weight="bold">chat-tui: each goal, measured '
        "as a share of the goal (shorter is better)</text>",
        f'<text x="10" y="44" fill="#555">{escape(machine["date"])} · {machine["cpus"]} CPUs · '
        f"Python {escape(machine['python'])} · Textual {escape(machine['textual'])}</text>",
    ]
    for row, figure in enumerate(goals):
        y = 62 + row * ROW
        target, value = figure["target"], figure["value"]
        share = value / target if target else (0.0 if value == 0 else SCALE_MAX)
        length = BAR * min(share, SCALE_MAX) / SCALE_MAX
        colour = PASS if figure["passed"] else FAIL
        label = f"{figure['group']}: {figure['name']}"
        if len(label) > 72:
            label = label[:71] + "…"
        parts += [
            f'<text x="10" y="{y + 16}">{escape(label)}</text>',
            f'<rect x="{LABEL}" y="{y + 4}" width="{max(length, 1):.1f}" height="{ROW - 8}" '
            f'fill="{colour}"/>',
            f'<text x="{LABEL + length + 6:.1f}" y="{y + 16}" fill="#333">'
            f"{share * 100:.0f} %</text>",
        ]
    bottom = 62 + ROW * len(goals)
    parts += [
        f'<line x1="{x100}" y1="54" x2="{x100}" y2="{bottom}" stroke="#222" '
        f'stroke-dasharray="4 3"/>',
        f'<text x="{x100 - 14}" y="{bottom + 18}" fill="#222">goal</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=HERE / "results/latest.json")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "performance.svg")
    args = parser.parse_args(argv)
    args.output.write_text(chart(json.loads(args.results.read_text())))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
