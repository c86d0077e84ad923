"""The README's samples run as tests, so that they cannot drift from what the tools do.

Each sample runs in a temporary folder holding links to the repository's ``specs/``,
``examples/`` and ``tests/``, so that its relative paths work and what it writes stays there.

- Every ```` ```python ```` block is executed.
- Every plain ```` ``` ```` block whose first line is ``$ authspec ...`` is a CLI sample: the
  command runs with this environment's ``authspec`` and the lines after it must match its output
  (stdout and stderr together; trailing spaces ignored). In a sample, a line ``...`` stands
  for any number of output lines, and ``...`` inside a line for any text within that line.

Every sample runs today, so nothing is skipped. A sample that cannot run as it stands (one that
needs a backend this machine lacks, say) goes into an explicit skip list keyed by its heading,
with the reason, never into a silent skip.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
LINKED = ("specs", "examples", "tests")  # what a sample may name by a relative path
ELISION = "..."


@dataclass(frozen=True)
class Block:
    """A fenced block of the README: its language, the heading above it, where it starts."""

    language: str
    heading: str
    line: int  # 1-based line of the opening fence
    text: str

    @property
    def name(self) -> str:
        return f"{self.heading} (README.md:{self.line})"


def fenced_blocks(markdown: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order."""
    blocks: list[Block] = []
    heading, opened, language, body = "", 0, "", []
    for number, line in enumerate(markdown.splitlines(), start=1):
        if opened:
            if line.startswith("```"):
                blocks.append(Block(language, heading, opened, "\n".join(body) + "\n"))
                opened = 0
            else:
                body.append(line)
        elif line.startswith("```"):
            opened, language, body = number, line[3:].strip(), []
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    return blocks


def python_samples(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.language == "python"]


def cli_samples(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.language == "" and b.text.startswith("$ authspec ")]


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))


def sample_pattern(shown: list[str]) -> re.Pattern[str]:
    """A pattern for the whole output from the lines a sample shows (see the module doc)."""
    parts = []
    for line in shown:
        if line.strip() == ELISION:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = (re.escape(piece) for piece in line.rstrip().split(ELISION))
            parts.append("[^\n]*".join(pieces) + r"[ \t]*\n")
    return re.compile("".join(parts))


def _workspace(tmp_path: Path) -> Path:
    for name in LINKED:
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    return tmp_path


def test_the_readme_has_samples_of_both_kinds() -> None:
    """Guards the extraction itself: a changed fence style must not leave nothing to test."""
    assert python_samples(BLOCKS)
    headings = {b.heading for b in cli_samples(BLOCKS)}
    assert {"Errors", "Simulating a trace", "Checking a backend"} <= headings


@pytest.mark.parametrize("block", python_samples(BLOCKS), ids=lambda b: b.name)
def test_python_sample_runs(block: Block, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_workspace(tmp_path))
    code = compile("\n" * (block.line) + block.text, str(README), "exec")
    exec(code, {"__name__": "__readme__"})


@pytest.mark.parametrize("block", cli_samples(BLOCKS), ids=lambda b: b.name)
def test_cli_sample_output(block: Block, tmp_path: Path) -> None:
    command, *shown = block.text.splitlines()
    argv = shlex.split(command.removeprefix("$ "))
    argv[0] = str(Path(sys.executable).with_name("authspec"))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    result = subprocess.run(argv, cwd=_workspace(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=300)
    output = "".join(line.rstrip() + "\n" for line in result.stdout.splitlines())
    assert sample_pattern(shown).fullmatch(output), (
        f"{block.name}: the output of `{command}` no longer matches the sample.\n"
        f"--- sample\n" + "\n".join(shown) + f"\n--- output (exit {result.returncode})\n"
        + output)


@pytest.mark.parametrize(("shown", "output", "matches"), [
    (["a", "b"], "a\nb\n", True),
    (["a"], "a\nb\n", False),
    (["a", "...", "c"], "a\nb1\nb2\nc\n", True),
    (["a", "...", "c"], "a\nc\n", True),
    (["x=... end"], "x=1, 2 end\n", True),
    (["x=... end"], "x=1\n end\n", False),
    (["a.b"], "axb\n", False),
])
def test_sample_pattern(shown: list[str], output: str, matches: bool) -> None:
    assert bool(sample_pattern(shown).fullmatch(output)) is matches
