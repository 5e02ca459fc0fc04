"""The documentation points at things that exist.

Every relative link in the README, docs/, results/README.md and CHANGELOG.md
resolves to a file or folder (and its anchor to a heading of a Markdown
target); every ``make <target>`` named in their code resolves to a Makefile
target; every ``audiofuse <command> [<subcommand>]`` to the CLI parser. The
README stays a front door: at most 12 KB, ``audiofuse predict`` on its first
screen.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_BYTES = 12 * 1024
PREDICT_WITHIN_LINES = 120

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
MAKE = re.compile(r"(?<![\w$(.-])make[ \t]+([a-z][\w-]*)")
# `audiofuse` as a command (not `from audiofuse import`, `audiofuse.x`, `audiofuse[app]`)
COMMAND = re.compile(
    r"(?<![\w.-])(?<!from )(?<!import )audiofuse[ \t]+([a-z][\w-]*)(?:[ \t]+([a-z][\w-]*))?"
)


def documents() -> list[Path]:
    """The Markdown files whose references are checked."""
    files = [REPO / "README.md", REPO / "results" / "README.md", REPO / "CHANGELOG.md"]
    return [p for p in files if p.exists()] + sorted((REPO / "docs").glob("*.md"))


def code_text(markdown: str) -> str:
    """The fenced blocks and inline code spans of ``markdown``, one per line."""
    blocks = [m.group(0) for m in FENCE.finditer(markdown)]
    prose = FENCE.sub("", markdown)
    return "\n".join(blocks + [m.group(2) for m in CODE_SPAN.finditer(prose)])


def prose_text(markdown: str) -> str:
    """``markdown`` without its fenced blocks and inline code spans."""
    return CODE_SPAN.sub("", FENCE.sub("", markdown))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading anchor of ``markdown``, GitHub's ``-1``, ``-2`` suffixes included."""
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", markdown)):
        slug = github_anchor(match.group(2))
        count = seen.get(slug, 0)
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return found


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """The relative links of ``path`` whose file, folder or anchor does not exist."""
    text = path.read_text()
    problems = []
    for target in LINK.findall(prose_text(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{path.relative_to(root)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            problems.append(f"{path.relative_to(root)}: {target} (no such heading)")
    return problems


def makefile_targets(makefile: Path = REPO / "Makefile") -> set[str]:
    """The explicit targets of the Makefile."""
    return set(re.findall(r"^([A-Za-z0-9][\w-]*)\s*:(?!=)", makefile.read_text(), re.M))


def unknown_make_targets(path: Path, targets: set[str], root: Path = REPO) -> list[str]:
    """``make <target>`` named in the code of ``path`` that the Makefile lacks."""
    named = MAKE.findall(code_text(path.read_text()))
    return [f"{path.relative_to(root)}: make {t}" for t in named if t not in targets]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def unknown_commands(path: Path, parser: argparse.ArgumentParser, root: Path = REPO) -> list[str]:
    """``audiofuse <command> [<subcommand>]`` named in the code of ``path`` that the CLI lacks."""
    problems = []
    commands = subcommands(parser)
    for first, second in COMMAND.findall(code_text(path.read_text())):
        if first not in commands:
            problems.append(f"{path.relative_to(root)}: audiofuse {first}")
            continue
        nested = subcommands(commands[first])
        if nested and second and second not in nested:
            problems.append(f"{path.relative_to(root)}: audiofuse {first} {second}")
    return problems


@pytest.fixture(scope="module")
def cli_parser() -> argparse.ArgumentParser:
    from audiofuse.cli.main import build_parser

    return build_parser()


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_make_target_named_exists(path):
    assert unknown_make_targets(path, makefile_targets()) == []


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_audiofuse_command_named_exists(path, cli_parser):
    assert unknown_commands(path, cli_parser) == []


def test_readme_is_a_front_door():
    readme = REPO / "README.md"
    assert readme.stat().st_size <= README_MAX_BYTES
    first_screen = readme.read_text().splitlines()[:PREDICT_WITHIN_LINES]
    assert any("audiofuse predict" in line for line in first_screen)


def test_the_docs_have_their_pages():
    pages = {p.name for p in (REPO / "docs").glob("*.md")}
    assert {
        "index.md",
        "reproducing.md",
        "predicting.md",
        "beyond-the-paper.md",
        "colab.md",
    } <= pages


def test_the_checks_catch_what_they_look_for(tmp_path, cli_parser):
    (tmp_path / "other.md").write_text("# A heading: here\n\n## A heading: here\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md#a-heading-here-1) [gone](missing.md) [bad anchor](other.md#nope)\n"
        "[web](https://example.org) `[not a link](nowhere.md)`\n"
        "```bash\nmake test\nmake no-such-target\naudiofuse predict x.wav\n"
        "audiofuse no-such-command\naudiofuse data no-such-sub\n"
        "from audiofuse import experiments\n```\n"
    )
    assert broken_links(doc, tmp_path) == [
        "doc.md: missing.md (no such file)",
        "doc.md: other.md#nope (no such heading)",
    ]
    assert unknown_make_targets(doc, {"test"}, tmp_path) == ["doc.md: make no-such-target"]
    assert unknown_commands(doc, cli_parser, tmp_path) == [
        "doc.md: audiofuse no-such-command",
        "doc.md: audiofuse data no-such-sub",
    ]
