"""The README stays a user's guide, and every link between the documents lands somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
README_CHARACTERS = 15_000
"""What a person reads before using the app; the details live in docs/."""
LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(document: Path) -> set[str]:
    """The anchors a Markdown renderer gives the document's headings (GitHub's rules)."""
    anchors = set()
    in_code = False
    for line in document.read_text("utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def local_links(document: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(document.read_text("utf-8"))
        if not re.match(r"[a-z]+:", target)
    ]


def test_the_readme_is_short_enough_to_read_before_using_the_app() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    assert len(text) <= README_CHARACTERS, f"{len(text)} characters: move details to docs/"


def broken_links(document: Path) -> list[str]:
    """Links to a file that is not there, or to a heading the file does not have."""

    def lands(target: str) -> bool:
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            return False
        return not anchor or linked.suffix != ".md" or anchor in heading_anchors(linked)

    return [target for target in local_links(document) if not lands(target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_local_link_finds_its_file_and_heading(document: Path) -> None:
    assert broken_links(document) == []


def test_a_link_to_a_missing_file_or_heading_is_seen(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Tools (MCP servers)\n", "utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[a](other.md#tools-mcp-servers) [b](other.md#tools) [c](gone.md) [d](#other)", "utf-8"
    )
    assert broken_links(page) == ["other.md#tools", "gone.md", "#other"]


def test_the_design_page_names_every_module() -> None:
    """docs/design.md's tree is the map a newcomer reads first: a module missing from it
    is a module nobody is told about."""
    tree = (ROOT / "docs" / "design.md").read_text("utf-8")
    package = ROOT / "src" / "chat_tui"
    modules = [p for p in package.rglob("*.py") if p.name != "__init__.py"]
    assert [str(p.relative_to(package)) for p in modules if p.name not in tree] == []
