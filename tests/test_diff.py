"""The semantic spec diff, on the review example of docs/diagrams.md.

The example changes the shipped specs in three ways a review meeting would discuss:

1. the static-password quota is raised from 300 to 500 yuan (two guards change; R5, Q1);
2. sessions expire (Q10 settled the other way): a new event ``timeout`` and a new transition
   ``session.timeout``;
3. wrong OTP codes are no longer modelled: the refusal ``otp_card.pay_wrong_code`` and its
   reason code ``wrong_otp_code`` are removed (R6, Q5).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from authspec.cli import app
from authspec.diagrams.diff import ADDED, CHANGED, REMOVED, compare, diff_dots, diff_specs
from authspec.diagrams.dot import MARK_COLOURS
from authspec.model import load

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"

# The review example: (file, old text, new text); "" as new text removes the old text.
REVIEW_EXAMPLE = [
    ("static_password.yaml", "spent + amount < 30000", "spent + amount < 50000"),
    ("static_password.yaml", "spent + amount == 30000", "spent + amount == 50000"),
    ("system.yaml", "  pay:\n    label: {en: Pay online",
     "  timeout:\n    label: {en: The session expires (Q10), zh: 会话超时(Q10)}\n"
     "    extension: Q10\n  pay:\n    label: {en: Pay online"),
    ("session.yaml", "  - id: reset_ends_session\n",
     "  - id: timeout\n    event: timeout\n    from: [logged_in, restricted]\n"
     "    to: logged_out\n    rules: [Q10]\n  - id: reset_ends_session\n"),
    ("otp_card.yaml", "  - id: pay_wrong_code\n    event: pay\n    from: active\n"
     "    when: method == 'otp' and not otp_code_correct\n    reason: wrong_otp_code\n"
     "    rules: [R6, Q5]\n", ""),
    ("system.yaml", "  wrong_otp_code: {label: {en: Wrong OTP code, zh: 口令卡密码错误}}\n", ""),
]


def apply_example(folder: Path) -> Path:
    for name, old, new in REVIEW_EXAMPLE:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"the review example no longer applies to {name}: {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("diff")
    old, new = base / "old", base / "new"
    shutil.copytree(SPECS, old)
    shutil.copytree(SPECS, new)
    apply_example(new)
    return old, new


def test_diff_finds_added_changed_removed_and_rules(folders) -> None:
    old, new = folders
    diff = diff_specs(str(old), str(new))
    found = {(c.kind, c.category, c.key): c for c in diff.changes}
    added = found[(ADDED, "transition", "session.timeout")]
    assert added.rules == ("Q10",) and "logged_in, restricted → logged_out" in added.summary
    assert (ADDED, "event", "timeout") in found
    changed = found[(CHANGED, "transition", "static_password.pay_within_quota")]
    assert changed.fields == (("guard", "method == 'static' and spent + amount < 30000",
                               "method == 'static' and spent + amount < 50000"),)
    assert set(changed.rules) == {"R5", "Q1"}
    assert (CHANGED, "transition", "static_password.pay_up_to_quota") in found
    assert (REMOVED, "rejection", "otp_card.pay_wrong_code") in found
    removed_reason = found[(REMOVED, "reason", "wrong_otp_code")]
    assert set(removed_reason.rules) == {"R6", "Q5"}
    affected = diff.affected_rules
    assert {"R5", "R6", "Q1", "Q5", "Q10"} <= set(affected)
    assert list(affected)[:2] == ["R5", "R6"]  # rules first, in numeric order
    text = diff.text()
    assert "+ transition session.timeout" in text
    assert "~ transition static_password.pay_within_quota: guard:" in text
    assert "- reason wrong_otp_code" in text
    assert "rules affected: R5 (2), R6 (2)" in text


def test_no_difference_against_itself() -> None:
    diff = compare(load(SPECS), load(SPECS))
    assert not diff and "no semantic differences" in diff.text()


def test_diff_diagram_colours(folders) -> None:
    old, new = folders
    dots = diff_dots(diff_specs(str(old), str(new)))
    assert set(dots) == {"static_password", "session", "otp_card"}
    session = next(ln for ln in dots["session"].splitlines() if 't:session.timeout:' in ln)
    assert MARK_COLOURS[ADDED] in session
    static = next(ln for ln in dots["static_password"].splitlines()
                  if "t:static_password.pay_within_quota:" in ln)
    assert MARK_COLOURS[CHANGED] in static
    removed = next(ln for ln in dots["otp_card"].splitlines() if "wrong_otp_code" in ln)
    assert f'<FONT COLOR="{MARK_COLOURS[REMOVED]}">removed: pay' in removed


def test_cli_diff_exit_codes_and_diagram(folders, tmp_path: Path) -> None:
    old, new = folders
    runner = CliRunner()
    same = runner.invoke(app, ["diff", str(old), str(old), "--exit-code"])
    assert same.exit_code == 0 and "no semantic differences" in same.output
    plain = runner.invoke(app, ["diff", str(old), str(new)])
    assert plain.exit_code == 0 and "session.timeout" in plain.output
    strict = runner.invoke(app, ["diff", str(old), str(new), "--exit-code", "--diagram",
                                 str(tmp_path / "d"), "--format", "dot"])
    assert strict.exit_code == 1
    assert (tmp_path / "d" / "diff-session.dot").exists()
    as_json = runner.invoke(app, ["diff", str(old), str(new), "--json"])
    assert '"affected_rules"' in as_json.output
    missing = runner.invoke(app, ["diff", str(tmp_path / "nowhere"), str(new)])
    assert missing.exit_code == 2


GIT = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t",
       "-c", "commit.gpgsign=false"]


def _repo(tmp_path: Path) -> Path:
    """A git repository with the shipped specs committed once (commit with ``GIT``)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(SPECS, repo / "specs")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*GIT, "add", "specs"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "first"], cwd=repo, check=True)
    return repo


def test_diff_between_git_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    apply_example(repo / "specs")
    subprocess.run([*GIT, "commit", "-qam", "second"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    diff = diff_specs("git:HEAD~1", "git:HEAD")
    assert any(c.key == "session.timeout" and c.kind == ADDED for c in diff.changes)
    against_tree = diff_specs("git:HEAD", "specs")
    assert not against_tree
    result = CliRunner().invoke(app, ["diff", "git:HEAD~1", "--exit-code"])
    assert result.exit_code == 1 and "static_password.pay_within_quota" in result.output
    bad = CliRunner().invoke(app, ["diff", "git:no-such-rev", "specs"])
    assert bad.exit_code == 2


@pytest.mark.parametrize("rev", ["--output=victim.txt", "--list", "-", "", "--remote=x",
                                 "no-such-rev", "HEAD:../../..", "HEAD --output=victim.txt"])
def test_a_bad_git_revision_is_a_usage_error_and_never_a_git_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rev: str) -> None:
    repo = _repo(tmp_path)
    victim = repo / "victim.txt"
    victim.write_text("precious\n")
    monkeypatch.chdir(repo)
    for args in (["diff", f"git:{rev}", "git:HEAD"], ["diff", "git:HEAD", f"git:{rev}"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
        assert "git:" in result.output and ("revision" in result.output
                                            or "outside" in result.output), result.output
    assert victim.read_text() == "precious\n"
