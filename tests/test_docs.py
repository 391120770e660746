"""The README stays a user's guide, every link between the documents lands somewhere, and
the design page's tree names every module."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
README_CHARACTERS = 15_000
"""What a person reads before using the app; the details live in docs/."""
LINK = re.compile(r"\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code taken out."""
    lines, fence = [], None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened[1]
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
        else:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def heading_anchors(document: Path) -> set[str]:
    """The anchors a Markdown renderer gives the document's headings (GitHub's rules: a
    repeated heading gets -1, -2, ...)."""
    seen: Counter[str] = Counter()
    anchors = set()
    for line in prose_lines(document.read_text("utf-8")):
        if not re.match(r"#{1,6}\s", line):
            continue
        title = line.lstrip("#").strip().lower()
        anchor = re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title))
        anchors.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
        seen[anchor] += 1
    return anchors


def local_links(document: Path) -> list[str]:
    text = "\n".join(prose_lines(document.read_text("utf-8")))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def broken_links(document: Path) -> list[str]:
    """Links to a file that is not there, or to a heading the file does not have."""

    def lands(target: str) -> bool:
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            return False
        return not anchor or linked.suffix != ".md" or anchor in heading_anchors(linked)

    return [target for target in local_links(document) if not lands(target)]


def tree_names(design: str) -> Counter[str]:
    """The file names the design page's tree (its first code block) lists under
    `src/chat_tui/`, each as often as it is listed."""
    tree = design.split("```", 2)[1]
    package = re.split(r"\n(?=\S)", tree.split("src/chat_tui/", 1)[1])[0]
    return Counter(re.findall(r"(?<![\w./])(\w+\.py)\b", package))


def test_the_readme_is_short_enough_to_read_before_using_the_app() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    assert len(text) <= README_CHARACTERS, f"{len(text)} characters: move details to docs/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_local_link_finds_its_file_and_heading(document: Path) -> None:
    assert broken_links(document) == []


def test_a_link_to_a_missing_file_or_heading_is_seen(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(
        "# Other\n\n## Tools (MCP servers)\n\n### Fixed\n\n### Fixed\n\n```\n# not one\n```\n",
        "utf-8",
    )
    page = tmp_path / "page.md"
    page.write_text(
        "[a](other.md#tools-mcp-servers) [b](other.md#tools) [c](gone.md) [d](#other)\n"
        '[e](other.md#fixed-1 "title") [f](other.md#not-one) `[g](gone.md)`\n'
        "```\n[h](gone.md)\n```\n",
        "utf-8",
    )
    assert broken_links(page) == ["other.md#tools", "gone.md", "#other", "other.md#not-one"]


def test_the_design_page_names_every_module() -> None:
    """docs/design.md's tree is the map a newcomer reads first: a module missing from it
    is a module nobody is told about, and a name there with no module misleads."""
    listed = tree_names((ROOT / "docs" / "design.md").read_text("utf-8"))
    package = ROOT / "src" / "chat_tui"
    modules = Counter(p.name for p in package.rglob("*.py") if p.name != "__init__.py")
    assert modules - listed == Counter()
    assert listed - modules == Counter()


def test_a_module_missing_from_the_tree_is_seen() -> None:
    design = (
        "x\n```\nsrc/chat_tui/\n  shell_tools.py  the shell\n  tools/\n    loop.py\n"
        "tests/\n  conftest.py\n```\ntools.py"
    )
    assert tree_names(design) == Counter({"shell_tools.py": 1, "loop.py": 1})
