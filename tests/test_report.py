"""The review report's content, without a browser (see test_report_browser.py for that)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from authspec.cli import app
from authspec.diagrams.diff import diff_specs
from authspec.diagrams.overlay import Coverage
from authspec.diagrams.render import dot_available
from authspec.diagrams.report import report_html
from authspec.model import load
from authspec.model.secrets import DRAWN

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"
pytestmark = pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")


@pytest.fixture(scope="module")
def system():
    return load(SPECS)


@pytest.fixture(scope="module")
def html(system) -> str:
    coverage = Coverage.from_json({
        "transitions": {"session.login": 4},
        "failures": [{"title": "wrong password accepted", "steps": [
            {"event": "login", "params": {"password": "Secret123"},
             "transitions": ["session.login"], "rejection": None,
             "expected": "rejected(wrong_password)", "actual": "accepted"}]}]}, "run.json")
    return report_html(system, spec_name="specs", coverage=coverage)


def test_report_is_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html and "url(http" not in html
    assert "default-src 'none'" in html  # the CSP forbids any fetch
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html


def test_report_has_every_machine_with_tables(html: str, system) -> None:
    for machine in system.machines:
        assert f'<section class="machine" id="machine-{machine.name}"' in html
        for t in machine.transitions:
            assert f'<tr id="{t.id}">' in html
        for r in machine.rejections:
            assert f'<tr id="{r.id}">' in html
    assert html.count("<svg") >= len(system.machines) + 1
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids must be unique in the page"
    # the source clause in Chinese and its English reading sit next to the citing element
    rule = system.catalogue.rule("R18")
    assert rule.clause in html and rule.reading in html


def test_traceability_and_assumptions(html: str, system) -> None:
    for rule in system.catalogue.rules:
        assert f'id="rule-{rule.id}"' in html
    for question in system.catalogue.questions:
        row = html[html.index(f'id="question-{question.id}"'):]
        row = row[: row.index("</tr>")]
        assert "open: to settle" in row
    assert system.assumptions[0].choice.zh in html


def test_uncited_rule_stands_out(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    path = specs / "ukey.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("[R12, R16, Q14]", "[R16, Q14]"),
                    encoding="utf-8")
    system = load(specs)
    assert "R12" not in system.citations()
    html = report_html(system)
    row = re.search(r'<tr class="uncited" id="rule-R12">.*?</tr>', html)
    assert row and "not cited" in row.group(0)
    assert len(re.findall(r'<tr class="uncited" id="rule-', html)) == 1


def test_secrets_never_in_clear(html: str) -> None:
    assert "Secret123" not in html
    assert DRAWN in html  # the masked password of the trace, the secret variables' values


def test_run_section(html: str) -> None:
    assert 'id="run"' in html and "wrong password accepted" in html
    assert 'class="divergent"' in html
    assert "Never exercised" in html


def test_report_with_diff_and_cli(tmp_path: Path) -> None:
    from test_diff import apply_example

    old = tmp_path / "old"
    shutil.copytree(SPECS, old)
    new = apply_example(Path(shutil.copytree(SPECS, tmp_path / "new")))
    diff = diff_specs(str(old), str(new))
    html = report_html(load(new), diff=diff)
    assert 'id="diff"' in html and "session.timeout" in html and 'class="added"' in html
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", str(new), "--diff", str(old), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and f"wrote {out}" in result.output


def test_cli_report_with_a_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "failures").mkdir(parents=True)
    (run / "coverage.json").write_text('{"transitions": {"session.login": 3}}')
    (run / "failures" / "0001.json").write_text(
        '{"steps": [{"event": "login", "params": {"password": "Tops3cret"}, '
        '"transitions": ["session.login"], "expected": "accepted", "actual": "rejected"}]}')
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(SPECS), "--run", str(run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Tops3cret" not in html and 'id="failure-1"' in html and "transitions exercised" in html


def test_cli_report_with_several_runs_adds_counts_and_lists_failures(tmp_path: Path) -> None:
    passing, failing = tmp_path / "bank", tmp_path / "mutant"
    passing.mkdir()
    failing.mkdir()
    (passing / "coverage.json").write_text(
        '{"transitions": {"session.login": 3, "session.logout": 2}}')
    (failing / "coverage.json").write_text('{"transitions": {"session.login": 4}}')
    (failing / "failure.json").write_text(
        '{"title": "mutant run", "steps": [{"event": "login", "params": {}, '
        '"transitions": ["session.login"], "expected": "accepted", "actual": "rejected"}]}')
    from authspec.diagrams.overlay import load_coverage, merge_coverage

    merged = merge_coverage([load_coverage(passing), load_coverage(failing)])
    assert merged.transition("session.login") == 7 and merged.transition("session.logout") == 2
    assert [f.title for f in merged.failures] == ["mutant run"]
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(SPECS), "--run", str(passing), "--run",
                                      str(failing), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="failure-1"' in html and "mutant run" in html
    assert str(passing) in html and str(failing) in html
