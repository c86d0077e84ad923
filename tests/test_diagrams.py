"""Diagrams of the specs: deterministic DOT, Chinese labels, marks, overlays, Mermaid, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from authspec.cli import app
from authspec.diagrams.common import expr_text, wrap
from authspec.diagrams.dot import NEVER, TRACE, Options, all_dots, machine_dot, overview_dot
from authspec.diagrams.mermaid import esc, markdown
from authspec.diagrams.overlay import Coverage, Failure, load_coverage, load_failures
from authspec.diagrams.render import dot_available, render, svg_dot_hash
from authspec.harness.runfiles import RunFileError
from authspec.model import load
from authspec.model.secrets import DRAWN

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"
needs_dot = pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")


@pytest.fixture(scope="module")
def system():
    return load(SPECS)


def edge_attrs(dot: str, transition_id: str, source: str) -> str:
    """The attribute text of the edge drawn for ``transition_id`` from ``source``."""
    for line in dot.splitlines():
        if f'id="t:{transition_id}:{source}"' in line:
            return line
    raise AssertionError(f"no edge for {transition_id} from {source}")


def test_dot_is_deterministic(system) -> None:
    again = load(SPECS)
    first, second = all_dots(system), all_dots(again)
    assert first == second
    assert list(first) == [m.name for m in system.machines] + ["overview"]
    for text in first.values():
        assert not re.search(r"\b\d{9,}\b", text), "a node named by id()?"
        assert 'fontname="Noto Sans CJK SC"' in text
    zh = all_dots(system, Options(lang="zh"))
    assert zh == all_dots(again, Options(lang="zh"))


def test_edges_carry_event_guard_and_rules(system) -> None:
    dot = machine_dot(system, system.machine("static_password"))
    line = edge_attrs(dot, "static_password.pay_within_quota", "active")
    assert "<B>pay</B>" in line
    assert "spent + amount &lt; 30000" in line  # guard, escaped for the HTML-like label
    assert "spent := spent + amount" in line  # effect
    assert "R5 Q1" in line  # rule IDs


def test_initial_final_and_no_way_out_are_marked(system) -> None:
    dot = machine_dot(system, system.machine("static_password"))
    assert "static_password____start -> static_password__unavailable" in dot
    superseded = next(ln for ln in dot.splitlines() if ln.strip().startswith(
        "static_password__superseded ["))
    assert "peripheries=2" in superseded
    ukey = machine_dot(system, system.machine("ukey"))
    ready = next(ln for ln in ukey.splitlines() if ln.strip().startswith("ukey__ready ["))
    assert "no way out" in ready and "peripheries" not in ready


def test_rejections_shown_or_hidden(system) -> None:
    machine = system.machine("otp_card")
    shown = machine_dot(system, machine)
    hidden = machine_dot(system, machine, Options(rejections=False))
    assert "wrong_otp_code" in shown and "shape=note" in shown
    assert "wrong_otp_code" not in hidden and "shape=note" not in hidden


def test_guards_are_shortened_and_secrets_masked(system) -> None:
    rejection = next(r for r in system.rejections if r.id == "session.login_wrong_password")
    assert expr_text(rejection.guard, system, "session") == "password != login_password.current"
    lines = wrap("method == 'otp' and channel == 'b2c' and not login_since_issue and uses < 5",
                 width=20, max_lines=2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    # a literal compared with a secret never shows
    from authspec.diagrams.common import mask_tree
    from authspec.model.expr import Binary, Lit, ParamRef, unparse
    tree = Binary(0, "==", ParamRef(0, "password"), Lit(0, "hunter2"))
    assert unparse(mask_tree(tree, system)) == f"password == '{DRAWN}'"


def test_overview_has_clusters_and_cross_machine_legend(system) -> None:
    dot = overview_dot(system)
    for machine in system.machines:
        assert f"subgraph cluster_{machine.name}" in dot
    assert "events shared by several machines" in dot
    assert re.search(r"━ register</B>", dot)


@needs_dot
def test_svg_has_chinese_labels_and_cjk_font(system) -> None:
    dot = machine_dot(system, system.machine("session"), Options(lang="zh"))
    svg = render(dot, "svg").decode("utf-8")
    assert "未登录" in svg and "已登录" in svg
    assert 'font-family="Noto Sans CJK SC' in svg
    assert svg_dot_hash(svg) is not None
    assert render(dot, "svg") == render(dot, "svg")  # byte-stable on one Graphviz


@needs_dot
def test_png_renders(system) -> None:
    dot = machine_dot(system, system.machine("account"), Options(lang="zh"))
    assert render(dot, "png").startswith(b"\x89PNG")


def test_coverage_overlay_marks_never_exercised(system) -> None:
    ids = [t.id for t in system.machine("otp_card").transitions]
    counts = {tid: 5 for tid in ids}
    counts["otp_card.pay_last_use"] = 0
    coverage = Coverage.from_json({"transitions": counts, "rejections": {},
                                   "states": {"otp_card.none": 3}})
    dot = machine_dot(system, system.machine("otp_card"), Options(coverage=coverage))
    never = edge_attrs(dot, "otp_card.pay_last_use", "active")
    assert f'color="{NEVER}"' in never and "style=dashed" in never and "never exercised" in never
    taken = edge_attrs(dot, "otp_card.pay", "active")
    assert NEVER not in taken and "×5" in taken
    assert "×0" in dot  # unvisited states and undecided refusals are marked too


def test_trace_overlay_numbers_steps_and_highlights_divergence(system) -> None:
    failure = Failure.from_json({"title": "b2c before login", "steps": [
        {"event": "register", "params": {"initial_login_password": "s3cretpass"},
         "transitions": ["account.register_with_local_account", "static_password.open"],
         "rejection": None, "expected": "accepted", "actual": "accepted"},
        {"event": "pay", "params": {"method": "static", "amount": 100, "password": "s3cret"},
         "transitions": ["static_password.pay_within_quota"], "rejection": None,
         "expected": "accepted", "actual": "rejected(quota_exceeded)"}]})
    assert failure.divergent == 1
    dot = machine_dot(system, system.machine("static_password"), Options(failure=failure))
    first = edge_attrs(dot, "static_password.open", "unavailable")
    assert f'color="{TRACE}"' in first and "①" in first
    second = edge_attrs(dot, "static_password.pay_within_quota", "active")
    assert "②" in second and "✗" in second and 'color="#d62728"' in second
    assert "s3cret" not in dot and DRAWN in dot
    assert "expected: accepted" in dot


def test_overlay_input_from_other_tools_has_one_checked_shape(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "coverage.json").write_text(json.dumps({
        "transitions": {"a.b": 3, "a.c": 2}, "states": {"a.x": 2}}))
    (tmp_path / "run" / "failure-1.json").write_text(json.dumps(
        {"steps": [{"event": "login", "params": {}, "expected": "accepted",
                    "actual": "accepted"}]}))
    coverage = load_coverage(tmp_path / "run")
    assert coverage.transitions == {"a.b": 3, "a.c": 2}
    assert coverage.states == {"a.x": 2}
    assert coverage.rejections == {}
    assert len(coverage.failures) == 1 and coverage.failures[0].steps[0].event == "login"
    (tmp_path / "f.json").write_text(json.dumps({"failures": [{"steps": []}, {"steps": [
        {"event": "pay"}]}]}))
    failures = load_failures(tmp_path / "f.json")
    assert len(failures) == 2 and failures[1].steps[0].transitions == ()
    # No guessing: another shape is an error naming the file, the place and the fix.
    for shape, place in (({"coverage": {"transitions": {}}}, "the top level"),
                         ({"transitions": {"a.b": {"count": 3}}}, "transitions/a.b"),
                         ({"states": ["a.x"]}, "states"),
                         ({"failures": [{"trace": []}]}, "failures/0")):
        (tmp_path / "bad.json").write_text(json.dumps(shape))
        with pytest.raises(RunFileError) as raised:
            load_coverage(tmp_path / "bad.json")
        message = str(raised.value)
        assert "bad.json" in message and place in message and "docs/diagrams.md" in message
    (tmp_path / "steps.json").write_text(json.dumps([{"event": "login"}]))  # steps, no failure
    with pytest.raises(RunFileError, match=r"steps\.json: 0"):
        load_failures(tmp_path / "steps.json")


def test_mermaid_has_a_block_per_machine_and_escapes(system) -> None:
    text = markdown(system)
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) == len(system.machines) + 1
    assert all(b.startswith("stateDiagram-v2\n") for b in blocks)
    assert esc('a: <b> "c"; #d {e}') == "a#58; #60;b#62; #34;c#34;#59; #35;d #123;e#125;"
    for block in blocks:
        for line in block.splitlines():
            if " --> " in line and " : " in line:
                label = re.sub(r"#\d+;", "", line.split(" : ", 1)[1])
                assert not re.search(r'[:;<>"{}]', label), line
    assert "spent + amount #60; 30000" in text
    assert markdown(system) == markdown(load(SPECS))
    assert "未登录" in markdown(system, Options(lang="zh"))


@needs_dot
def test_cli_diagram_writes_every_format(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["diagram", str(SPECS), "-o", str(out), "--format", "all"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert "overview.svg" in names and "session.dot" in names and "diagrams.md" in names
    assert "wrote" in result.output
    check = runner.invoke(app, ["diagram", str(SPECS), "-o", str(out), "--format", "all",
                                "--check"])
    assert check.exit_code == 0, check.output
    (out / "session.dot").write_text("digraph stale {}")
    check = runner.invoke(app, ["diagram", str(SPECS), "-o", str(out), "--format", "dot",
                                "--check"])
    assert check.exit_code == 1 and "session.dot" in check.output
    bad = runner.invoke(app, ["diagram", str(SPECS), "-o", str(out), "--format", "gif"])
    assert bad.exit_code == 2


@needs_dot
def test_cli_diagram_overlays(tmp_path: Path, system) -> None:
    cov = tmp_path / "coverage.json"
    cov.write_text(json.dumps({"transitions": {"session.login": 2}, "failures": [{"steps": [
        {"event": "register", "transitions": ["account.register_with_local_account"],
         "expected": "accepted", "actual": "rejected(id_invalid)"}]}]}))
    runner = CliRunner()
    result = runner.invoke(app, ["diagram", str(SPECS), "-o", str(tmp_path / "o"), "--format",
                                 "dot", "--coverage", str(cov), "--trace", str(cov),
                                 "--hide-rejections"])
    assert result.exit_code == 0, result.output
    account = (tmp_path / "o" / "account.dot").read_text()
    assert "①" in account and "shape=note" not in account


HOSTILE = ('Door\\n```\\n\\n```mermaid\\nclick s_open href \\"javascript:alert(1)\\"\\n```\\n'
           '<script>alert(1)</script>\\r\\n%%{init: {}}%%\\u2028click s_closed call x()\\x85end')


def test_mermaid_escapes_hostile_labels(tmp_path: Path) -> None:
    """Labels cannot end their line or their block: no injected block, directive or tag."""
    from spec_variants import door_copy
    spec = door_copy(tmp_path, ("name: door\n", f'name: door\nlabel: {{en: "{HOSTILE}"}}\n'),
                     ("  open: {}", f'  open: {{label: {{en: "{HOSTILE}"}}}}'))
    system_file = spec / "system.yaml"
    system_file.write_text(system_file.read_text().replace(
        "label: {en: The office door, zh: 办公室的门}", f'label: {{en: "{HOSTILE}"}}'))
    system = load(spec)
    assert "click s_open" in system.machines[0].label.en  # the attack reached the spec
    text = markdown(system)
    assert text.count("```mermaid\n") == len(system.machines) + 1
    assert text.count("```") == 2 * (len(system.machines) + 1)
    lines = text.splitlines()  # splits at \r, \u2028, \x85 too
    assert len(lines) == len(text.rstrip("\n").split("\n"))
    assert not [line for line in lines if line.strip().startswith(("click", "%%"))]
    assert not re.search(r"(?<!\\)<script", text), text  # only as the text \<script\>
    assert esc("a\r\nb\u2028c\x85d&e") == "a  b c d#38;e"
