"""Several declared mutant sets: the default one, and the specs each set belongs to.

The reference bank declares two sets in ``authspec.mutant_sets``: ``mutant`` (the shipped
specs) and ``isolation`` (``bank/isolation_mutants.py``, whose ``SPECS`` names
``examples/two_customers``). ``authspec mutants`` without ``--set`` runs ``mutant``;
``--set isolation`` checks against the two-customer specs without ``--specs``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from authspec.harness import commands, mutation
from authspec.harness.mutation import DEFAULT_SET, MutantSetError, load_mutant_set

REPO = Path(__file__).resolve().parent.parent
TWO = REPO / "examples" / "two_customers"
ISOLATION = ["quota_booked_on_other_customer", "session_of_other_customer",
             "counter_reset_ends_every_session"]

pytest.importorskip("authspec.bank.isolation_mutants")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    commands.register(app)
    return app


def test_both_sets_are_declared_and_the_default_is_the_bank_s_own():
    declared = mutation.mutant_sets()
    assert {"mutant", "isolation"} <= set(declared)
    family, mutants = load_mutant_set(None)
    assert family == DEFAULT_SET == "mutant"
    assert "quota_limit_29999" in {m.name for m in mutants}
    family, mutants = load_mutant_set("isolation")
    assert family == "isolation" and [m.name for m in mutants] == ISOLATION


def test_the_default_rule():
    assert mutation.default_set_name(["only_one"]) == "only_one"
    assert mutation.default_set_name(["isolation", "mutant", "other"]) == "mutant"
    assert mutation.default_set_name(["isolation", "other"]) is None
    assert mutation.default_set_name([]) is None


def test_each_set_names_the_specs_it_belongs_to():
    assert mutation.mutant_set_specs("isolation") == TWO
    assert mutation.mutant_set_specs("mutant") is None  # the shipped specs
    assert mutation.mutant_set_specs("tests/harness_specs/adapters.py:X") is None  # own set
    assert mutation.mutant_set_specs("no_such_set") is None


def _declare(monkeypatch, tmp_path: Path, module: str, text: str) -> None:
    """A real module in a temporary folder, declared as the mutant set ``team``."""
    (tmp_path / f"{module}.py").write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = importlib.metadata.EntryPoint("team", f"{module}:MUTANTS",
                                          "authspec.mutant_sets")
    monkeypatch.setattr(mutation, "mutant_sets", lambda: {"team": entry})


def test_specs_relative_to_the_module_and_what_is_wrong_with_them(monkeypatch, tmp_path):
    (tmp_path / "specs_here").mkdir()
    _declare(monkeypatch, tmp_path, "team_set_ok", 'MUTANTS = ()\nSPECS = "specs_here"\n')
    assert mutation.mutant_set_specs("team") == tmp_path.resolve() / "specs_here"
    _declare(monkeypatch, tmp_path, "team_set_gone", 'MUTANTS = ()\nSPECS = "gone"\n')
    with pytest.raises(MutantSetError, match=r"team_set_gone\.SPECS.*do not exist.*--specs"):
        mutation.mutant_set_specs("team")
    _declare(monkeypatch, tmp_path, "team_set_bad", "MUTANTS = ()\nSPECS = 3\n")
    with pytest.raises(MutantSetError, match=r"team_set_bad\.SPECS must be a path"):
        mutation.mutant_set_specs("team")


def test_without_a_default_the_command_asks_for_a_set(app, monkeypatch):
    declared = {name: ep for name, ep in mutation.mutant_sets().items() if name != "mutant"}
    declared["other"] = importlib.metadata.EntryPoint(
        "other", "authspec.bank.isolation_mutants:MUTANTS", "authspec.mutant_sets")
    monkeypatch.setattr(mutation, "mutant_sets", lambda: declared)
    result = CliRunner().invoke(app, ["mutants"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "name a mutant set with --set (known: isolation, other" in result.output


def test_the_isolation_set_runs_against_the_two_customer_specs(app, tmp_path):
    table = tmp_path / "isolation.md"
    result = CliRunner().invoke(app, [
        "mutants", "--set", "isolation", "--only", "quota_booked_on_other_customer",
        "--out", str(tmp_path), "--max-seconds", "20", "--markdown", str(table)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Mutant set 'isolation': 1 mutants" in result.output
    assert "1/1 killed" in result.output
    # the gaps name the two customers' invariants: it ran on the two-customer specs
    assert "static_password[alice].quota_never_exceeded" in table.read_text(encoding="utf-8")
    assert (tmp_path / "mutants" / "quota_booked_on_other_customer").is_dir()


def test_an_explicit_specs_wins_over_the_set_s(app, tmp_path):
    result = CliRunner().invoke(app, [
        "mutants", "--set", "isolation", "--only", "quota_booked_on_other_customer",
        "--specs", str(REPO / "specs"), "--out", str(tmp_path), "--max-seconds", "3",
        "--examples", "20"], catch_exceptions=False)
    # one customer cannot tell this mutant from the correct bank
    assert result.exit_code == 1, result.output
    assert "0/1 killed" in result.output
