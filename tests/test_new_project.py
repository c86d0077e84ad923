"""A new user's project end to end, through the real command line: a folder with its own
authspec.toml, its own specs and an adapter beside them (examples/lockout copied), every
command run from a folder below it without naming --specs (the checks and the replay as
processes of their own, the other commands in this process, for speed).

The factories live in ``factories.py``, which imports the lock-out adapter as a plain module
beside it (``from adapter import ...``): that works only because a ``file.py:factory``
backend is imported with its folder on the import path, the commands running elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from authspec.cli import app

ROOT = Path(__file__).parent.parent
LOCKOUT = ROOT / "examples" / "lockout"

CONFIG = """\
# the project's own configuration: paths are relative to this file
specs = "specs"
backend = "factories.py:make_adapter"
out = "build"
examples = 40
max_seconds = 3
shrink_seconds = 3
seed = 1
database = "none"
"""

FACTORIES = """\
from adapter import locks_after_2, make_adapter  # a module beside this file

__all__ = ["locks_after_2", "make_adapter"]
"""


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    shutil.copytree(LOCKOUT, folder)
    (folder / "authspec.toml").write_text(CONFIG, encoding="utf-8")
    (folder / "factories.py").write_text(FACTORIES, encoding="utf-8")
    (folder / "work").mkdir()
    return folder


def authspec(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "authspec", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def inside(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command run in this process, from ``cwd``, as ``authspec`` would run it."""
    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["authspec", *args], result.exit_code, result.stdout,
                                       result.stderr)


def ok(run: subprocess.CompletedProcess[str], code: int = 0) -> str:
    output = run.stdout + run.stderr
    assert run.returncode == code, f"{run.args}: exit {run.returncode}\n{output}"
    assert "note:" not in run.stderr and "shipped" not in output, output
    return output


def test_a_new_project_runs_every_command_without_naming_the_specs(tmp_path: Path) -> None:
    shop = project(tmp_path)
    work = shop / "work"
    assert "1 machines, 3 states, 4 transitions, 12 refusals" in ok(inside(work, "validate"))
    assert "15 steps, 0 not as expected" in ok(inside(work, "simulate", "../trace.yaml"))
    assert "rules covered: 6/6" in ok(inside(work, "trace"))
    passed = ok(authspec(work, "check", "--no-coverage-table"))
    assert "PASS" in passed and "conforms to account_lockout" in passed
    assert "rejections 12/12" in passed
    assert (shop / "build" / "coverage.json").is_file()  # out, relative to the file
    # an option on the command line wins: another backend, relative to the current folder
    failed = ok(authspec(work, "check", "--backend", "../factories.py:locks_after_2",
                         "--no-coverage-table"), 1)
    assert "NONCONFORMANCE" in failed
    (replay,) = (shop / "build").glob("replay_*.py")
    assert str(tmp_path) not in replay.read_text(encoding="utf-8")  # no absolute path
    adapter = ok(inside(work, "init-adapter", "shop", "--out", "shop_adapter.py"))
    assert "4 events, 7 reason codes" in adapter  # the project's own events, not the bank's
    assert "def _on_login(self" in (work / "shop_adapter.py").read_text(encoding="utf-8")
    drawn = ok(inside(work, "diagram", "--format", "dot"))
    assert (shop / "build" / "diagrams" / "account.dot").is_file(), drawn
    ok(inside(work, "report", "--run", "../build"))
    assert "account_lockout" in (shop / "build" / "report.html").read_text(encoding="utf-8")
    assert "no semantic differences" in ok(inside(work, "diff", "../specs"))
    assert json.loads(ok(inside(work, "schema")))["title"] == "authspec spec file"

    # The replay file runs from anywhere, the project moved as a whole.
    moved = tmp_path / "moved"
    shop.rename(moved)
    replayed = run_replay(moved / "build" / replay.name, cwd=tmp_path)
    assert replayed.returncode == 1 and "ReplayMismatch" in replayed.stdout, replayed.stdout
    assert "ModuleNotFoundError" not in replayed.stdout
    fixed = run_replay(moved / "build" / replay.name, cwd=tmp_path,
                       AUTHSPEC_REPLAY_BACKEND=f"{moved / 'factories.py'}:make_adapter")
    assert fixed.returncode == 0, fixed.stdout


def run_replay(path: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(path)], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def test_the_pytest_plugin_imports_the_module_beside_the_backend_file(tmp_path: Path) -> None:
    shop = project(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir",
         str(shop / "work"), "--authspec-backend", "../factories.py:make_adapter",
         "--authspec-specs", "../specs", "--authspec-seed", "1", "--authspec-examples", "10",
         "--authspec-max-seconds", "2"],
        cwd=shop / "work", capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    # one item per goal of the sweep and one for the exploration: all pass
    assert re.search(r"\b\d+ passed", run.stdout) and "failed" not in run.stdout
