"""No text of a user, a spec or a backend is read as rich markup or emoji in what
``authspec check`` prints (issue 9): ``:100:`` stays ``:100:``, ``[bold]`` stays ``[bold]``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from authspec.harness import commands
from authspec.harness.console import say
from authspec.harness.mutation import MutantRun, MutationReport
from authspec.harness.run import CheckResult

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
ADAPTERS = HERE / "harness_specs" / "adapters.py"
MARKUP = "[bold]x[/bold]:100:"

ADAPTER = '''
import sys
sys.path.insert(0, {folder!r})
from adapters import TinyCard
from authspec.harness.adapter import Response

class Refusing(TinyCard):
    def _issue(self, pin):
        return Response.rejected({text!r})

class Raising(TinyCard):
    def _use(self, pin):
        raise RuntimeError({text!r})

def make_refusing():
    return Refusing()

def make_raising():
    return Raising()
'''


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    commands.register(app)
    return app


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    path = tmp_path / "markup_adapter.py"
    path.write_text(ADAPTER.format(folder=str(ADAPTERS.parent), text=MARKUP))
    return path


def invoke(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, ["check", "--seed", "1", "--database", "none",
                                      "--examples", "5", "--max-seconds", "10", *args],
                                catch_exceptions=False)
    return result.output


def test_a_reason_code_and_a_path_print_as_they_are(app, adapter, tmp_path):
    out = tmp_path / "run:100:[red]x[/red]"
    output = invoke(app, "--backend", f"{adapter}:make_refusing", "--specs", TINY, "--out",
                    str(out))
    assert "BACKEND ERROR" in output and MARKUP in output  # an undeclared code, as it is
    assert f"coverage written to {out / 'coverage.json'}" in output.replace("\n", "")
    assert "\N{HUNDRED POINTS SYMBOL}" not in output


def test_a_backend_error_prints_as_it_is(app, adapter, tmp_path):
    output = invoke(app, "--backend", f"{adapter}:make_raising", "--specs", TINY, "--out",
                    str(tmp_path))
    assert "BACKEND ERROR" in output and MARKUP in output
    assert "\N{HUNDRED POINTS SYMBOL}" not in output


def test_a_usage_error_prints_the_path_as_it_is(app, tmp_path):
    specs = tmp_path / "no:100:such" / "[bold]specs[/bold]"
    output = invoke(app, "--backend", "model", "--specs", str(specs), "--out", str(tmp_path))
    assert "[bold]specs[/bold]" in output and ":100:" in output
    assert "\N{HUNDRED POINTS SYMBOL}" not in output


def test_say_prints_text_as_it_is():
    buffer = io.StringIO()
    console = Console(file=buffer, width=200)
    say(console, ("styled", "bold"), f" {MARKUP} :smile:")
    printed = buffer.getvalue()
    assert f"styled {MARKUP} :smile:" in printed
    assert "\N{HUNDRED POINTS SYMBOL}" not in printed


@dataclass(frozen=True)
class NamedMutant:
    name: str
    rules: tuple[str, ...]


def test_the_mutation_table_prints_names_as_they_are(tmp_path):
    result = CheckResult("pass", "family", None, None, 1.0)
    report = MutationReport(f"family{MARKUP}", (MutantRun(NamedMutant(f"m{MARKUP}",
                                                                      (f"R{MARKUP}",)), result),),
                            1.0, (f"gap {MARKUP}",))
    buffer = io.StringIO()
    markdown = tmp_path / "table:100:.md"
    commands.print_mutation_report(Console(file=buffer, width=300), report, markdown)
    printed = buffer.getvalue()
    for said in (repr(f"family{MARKUP}"), f"m{MARKUP}", f"R{MARKUP}", f"gap {MARKUP}",
                 f"survivors: m{MARKUP}", f"table written to {markdown}"):
        assert said in printed, said
    assert "\N{HUNDRED POINTS SYMBOL}" not in printed and markdown.exists()
