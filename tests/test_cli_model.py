"""The validate, simulate and trace commands, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def authspec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "authspec", *args], capture_output=True,
                          text=True, timeout=180, cwd=ROOT)


def test_validate_shipped_specs_is_clean() -> None:
    result = authspec("validate", "specs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout
    assert "7 machines" in result.stdout


def test_validate_default_is_the_shipped_specs() -> None:
    result = authspec("validate")
    assert result.returncode == 0 and "7 machines" in result.stdout


def test_trace_lists_all_rules_and_questions_as_covered() -> None:
    result = authspec("trace", "specs", "--format", "json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert [r["id"] for r in table["rules"]] == [f"R{i}" for i in range(1, 23)]
    assert all(r["covered"] for r in table["rules"])
    assert [q["id"] for q in table["questions"]] == [f"Q{i}" for i in range(1, 18)]
    assert all(q["answered"] and q["assumption"]["zh"] for q in table["questions"])
    text = authspec("trace", "specs")
    assert "rules covered: 22/22; questions answered: 17/17" in text.stdout


def test_trace_fails_on_uncovered_rule(tmp_path: Path) -> None:
    result = authspec("trace", "tests/broken_specs/uncited_rule")
    assert result.returncode == 1
    assert "NOT COVERED" in result.stdout
    written = authspec("trace", "tests/broken_specs/uncited_rule", "--format", "markdown",
                       "-o", str(tmp_path / "t.md"))
    assert written.returncode == 1
    assert re.search(r"rules covered: (\d+)/(\d+)", written.stdout)
    covered, declared = map(int, re.search(r"rules covered: (\d+)/(\d+)",
                                           written.stdout).groups())
    assert covered < declared and "NOT COVERED" not in written.stdout


def test_trace_writes_a_file_and_prints_the_summary(tmp_path: Path) -> None:
    for fmt, start in (("markdown", "| Rule |"), ("json", "{"), ("text", "")):
        path = tmp_path / f"matrix.{fmt}"
        result = authspec("trace", "specs", "--format", fmt, "-o", str(path))
        assert result.returncode == 0, result.stdout
        assert result.stdout.strip() == ("rules covered: 22/22; questions answered: 17/17 "
                                         f"(written to {path})")
        text = path.read_text(encoding="utf-8")
        assert text.startswith(start) and "R22" in text and "Q12" in text


def test_simulate_masks_secrets_and_reports_rules() -> None:
    result = authspec("simulate", "examples/quota_boundary.yaml")
    assert result.returncode == 0, result.stdout
    assert "246810" not in result.stdout and "<secret:6>" in result.stdout
    assert re.search(r"rejected\(quota_exceeded\)\s+by static_password.pay_beyond_quota\s+"
                     r"rules R5, Q1", result.stdout)
    assert "10 steps, 0 not as expected" in result.stdout
    clear = authspec("simulate", "examples/quota_boundary.yaml", "--show-secrets")
    assert "'246810'" in clear.stdout


def test_simulate_reports_unexpected_outcomes(tmp_path: Path) -> None:
    trace = tmp_path / "t.yaml"
    trace.write_text("- {event: logout, expect: accepted}\n")
    result = authspec("simulate", str(trace))
    assert result.returncode == 1
    assert "expected accepted" in result.stdout and "rejected(not_registered)" in result.stdout


def test_simulate_locates_trace_errors(tmp_path: Path) -> None:
    trace = tmp_path / "t.yaml"
    trace.write_text("steps:\n  - event: login\n    params: {pasword: x}\n  - event: fly\n")
    result = authspec("simulate", str(trace))
    assert result.returncode == 2
    assert re.search(r"t\.yaml:3:14: error: event login has no parameter 'pasword'",
                     result.stdout), result.stdout
    assert re.search(r"t\.yaml:4:12: error: unknown event 'fly'", result.stdout)
    assert "Traceback" not in result.stdout + result.stderr


def test_simulate_json_lines() -> None:
    result = authspec("simulate", "examples/ukey.yaml", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 14 and all(line["as_expected"] for line in lines)
    assert lines[-1]["accepted"] and "R12" in lines[-1]["rules"]


def test_simulate_reports_a_broken_invariant_at_its_step(tmp_path: Path) -> None:
    import shutil
    spec = tmp_path / "door"
    shutil.copytree(ROOT / "tests" / "specs" / "door", spec)
    door = spec / "door.yaml"
    door.write_text(door.read_text().replace("expr: opened_times <= 3", "expr: opened_times <= 1"))
    trace = tmp_path / "t.yaml"
    trace.write_text("- {event: open, params: {code: '1234'}}\n- close\n"
                     "- {event: open, params: {code: '1234'}}\n")
    result = authspec("simulate", str(trace), "--specs", str(spec))
    assert result.returncode == 1
    third = result.stdout.split("  3. ")[1]
    assert "invariant broken: door.at_most_three (opened_times <= 1" in third
    assert "1 not as expected" not in result.stdout.split("  3. ")[0]


def _door_with_error_at_line_100(tmp_path: Path) -> Path:
    """The door spec with a type error at door.yaml:100 and markup in a rule's reading."""
    import shutil
    spec = tmp_path / "door"
    shutil.copytree(ROOT / "tests" / "specs" / "door", spec)
    door = spec / "door.yaml"
    lines = door.read_text().splitlines()
    when = next(i for i, line in enumerate(lines) if "when: opened_times < 3" in line)
    lines[when] = "    when: opened_times < 'x'"
    lines[when:when] = ["    # padding"] * (99 - when)
    door.write_text("\n".join(lines) + "\n")
    rules = spec / "rules.yaml"
    rules.write_text(rules.read_text().replace(
        "reading: The door opens only with the right code.",
        "reading: \"[bold]The door[/bold] opens :100: only [red]with[/] the code.\""))
    return spec


def test_no_user_text_is_read_as_rich_markup_or_emoji(tmp_path: Path) -> None:
    spec = _door_with_error_at_line_100(tmp_path)
    result = authspec("validate", str(spec))
    assert result.returncode == 1
    assert re.search(r"door\.yaml:100:\d+: error: expected int", result.stdout), result.stdout
    assert "\N{HUNDRED POINTS SYMBOL}" not in result.stdout
    door = spec / "door.yaml"
    door.write_text(door.read_text().replace("opened_times < 'x'", "opened_times < 3"))
    table = authspec("trace", str(spec))
    assert "[bold]The door[/bold] opens :100:" in table.stdout, table.stdout
    assert "[red]with[/]" in table.stdout


def test_simulate_never_prints_a_secret_in_an_error(tmp_path: Path) -> None:
    trace = tmp_path / "t.yaml"
    trace.write_text("- event: register\n  params: {initial_login_password: 987654}\n")
    result = authspec("simulate", str(trace))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "initial_login_password=<secret int> is not a str" in result.stdout, result.stdout
    assert "987654" not in result.stdout + result.stderr


def test_simulate_reports_a_division_by_zero_of_the_spec_without_traceback(
        tmp_path: Path) -> None:
    from spec_variants import door_copy
    spec = door_copy(tmp_path, ("do: {opened_times: opened_times + 1}",
                                "do: {opened_times: 1 // opened_times}"))
    trace = tmp_path / "t.yaml"
    trace.write_text("- {event: open, params: {code: '1234'}}\n")
    result = authspec("simulate", str(trace), "--specs", str(spec))
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.search(r"door\.yaml:18:\d+: .*division", result.stdout), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "[division-by-zero]" in authspec("validate", str(spec)).stdout


def test_a_missing_spec_folder_is_a_usage_error(tmp_path: Path) -> None:
    for command in ("validate", "trace"):
        result = authspec(command, str(tmp_path / "nowhere"))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "no such file or folder" in result.stdout


def test_an_output_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    """trace, diagram and report name the file they cannot write and exit 2, no traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    runs = [("trace", "specs", "--out", str(blocker / "matrix.txt")),
            ("diagram", "tests/specs/door", "-o", str(blocker), "--format", "mermaid"),
            ("report", "tests/specs/door", "-o", str(tmp_path))]
    for args in runs:
        result = authspec(*args)
        assert result.returncode == 2, (args, result.stdout + result.stderr)
        assert "cannot write" in result.stdout + result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr


def test_spec_text_cannot_send_terminal_escapes(tmp_path: Path) -> None:
    """YAML allows "\\e[2J" in a quoted string; the console shows it, never sends it."""
    from spec_variants import door_copy
    spec = door_copy(tmp_path, ("reading: The door opens only with the right code.",
                                'reading: "\\e[2J\\e]0;owned\\x07The door opens."'),
                     file="rules.yaml")
    result = authspec("trace", str(spec))
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2J" in result.stdout, result.stdout
