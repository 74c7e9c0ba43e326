"""The README and docs/ stay true: every `callbot ...` command they show parses, every relative link
points to a file, and the README stays a short guide."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callbot.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)  # also indented, in lists
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def fenced_commands(text: str) -> list[list[str]]:
    """The words after `callbot` of every command line in the fenced blocks of a Markdown page.

    A command line starts (after an optional `$ ` prompt and `NAME=value` settings) with `callbot` or a
    path ending in `/callbot`; a trailing backslash continues it; `#` starts a comment."""
    commands = []
    for block in _FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                continue  # not shell (a transcript line with an unbalanced quote)
            while words and _ENV.match(words[0]):
                words.pop(0)
            if words and (words[0] == "callbot" or words[0].endswith("/callbot")):
                commands.append(words[1:])
    return commands


def _all_commands() -> list[tuple[str, list[str]]]:
    return [(page.name, words) for page in PAGES for words in fenced_commands(page.read_text("utf-8"))]


def test_the_extractor_finds_prompted_continued_and_prefixed_commands() -> None:
    text = (
        "```bash\n"
        "$ .venv/bin/callbot shell\n"
        "X_TOKEN=1 callbot replicas reload http://a \\\n  http://b   # one at a time\n"
        "python benchmarks/x.py --callbot\n"
        "```\n"
        "callbot train (prose, not a command)\n"
        "1. a step\n\n   ```bash\n   .venv/bin/callbot serve --public-url https://x\n   ```\n"
    )
    assert fenced_commands(text) == [
        ["shell"],
        ["replicas", "reload", "http://a", "http://b"],
        ["serve", "--public-url", "https://x"],
    ]


def test_the_readme_shows_the_main_commands() -> None:
    shown = {" ".join(w[:2]) for page, w in _all_commands() if page == "README.md"}
    for command in ("data build", "train", "shell", "serve --public-url", "calls list", "nlu eval"):
        assert any(s.startswith(command) for s in shown), command


@pytest.mark.parametrize(
    ("page", "words"), _all_commands(), ids=[f"{p}: {' '.join(w)}" for p, w in _all_commands()]
)
def test_every_documented_command_parses(page: str, words: list[str]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"], prog_name="callbot")
    assert result.exit_code == 0, f"{page}: callbot {' '.join(words)}\n{result.output}"
    assert "Usage: callbot" in result.output


def test_a_wrong_command_or_option_does_not_parse() -> None:
    for words in (["data", "biuld"], ["train", "--domian", "store"]):
        assert CliRunner().invoke(app, [*words, "--help"], prog_name="callbot").exit_code != 0


def test_relative_links_point_to_existing_files() -> None:
    broken = []
    for page in PAGES:
        for target in _LINK.findall(page.read_text("utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web address or an anchor on the same page
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken


def test_the_readme_is_a_short_guide() -> None:
    lines = (ROOT / "README.md").read_text("utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"
