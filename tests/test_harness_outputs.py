"""The output folder of a check (issue 9): checked before the run, the verdict printed before
the files are written, every file written atomically, never an older failure.json next to a
newer coverage.json.

The suite runs as root, for whom no folder is unwritable: an unusable ``--out`` is an
existing regular file, or a path under one; a full disk is ``Path.write_text`` raising
``ENOSPC``.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from authspec.harness import commands
from authspec.harness import run as run_module
from authspec.harness.options import CheckOptions
from authspec.harness.run import CheckResult, check

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
ADAPTERS = str(HERE / "harness_specs" / "adapters.py")
GOOD, FAULTY = f"{ADAPTERS}:make_tiny", f"{ADAPTERS}:make_weak_pin"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    commands.register(app)
    return app


def invoke(app: typer.Typer, backend: str, out: Path):
    # In-process (--no-supervise): the tests monkeypatch file writing, which a supervised
    # child process would not see.
    args = ["check", "--backend", backend, "--specs", TINY, "--seed", "1", "--database",
            "none", "--out", str(out), "--examples", "6", "--steps", "15",
            "--max-seconds", "10", "--no-coverage-table", "--no-supervise"]
    return CliRunner().invoke(app, args, catch_exceptions=False)


def options(backend: str, out: Path) -> CheckOptions:
    return CheckOptions(backend=backend, specs=TINY, seed=1, database=None, out=str(out),
                        examples=6, steps=15, max_seconds=10.0, timeout=2.0)


def _no_space(self: Path, *args: object, **kwargs: object) -> int:
    raise OSError(errno.ENOSPC, "No space left on device", str(self))


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make every ``Path.write_text`` from then on fail as on a full disk."""

    def fill() -> None:
        monkeypatch.setattr(Path, "write_text", _no_space)

    return fill


def flat(text: str) -> str:
    return " ".join(text.split())


# -- before the run ---------------------------------------------------------------------------


def test_an_out_that_is_a_file_is_a_usage_error_before_the_run(app, tmp_path):
    out = tmp_path / "results"
    out.write_text("not a folder")
    result = invoke(app, FAULTY, out)
    assert result.exit_code == 2, result.output
    assert f"--out {out} is a file, not a folder" in flat(result.output)
    assert "NONCONFORMANCE" not in result.output  # the run never started
    assert out.read_text() == "not a folder"


def test_an_out_under_a_file_is_a_usage_error_naming_the_file(app, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "sub" / "out"
    result = invoke(app, GOOD, out)
    assert result.exit_code == 2, result.output
    assert f"{blocker} is a file, so no folder can be made under it" in flat(result.output)
    assert "PASS" not in result.output


def test_a_folder_named_like_a_run_file_is_a_usage_error(tmp_path):
    (tmp_path / "coverage.json").mkdir()
    result = check(options(GOOD, tmp_path))
    assert result.exit_code == 2 and result.usage is not None
    assert f"{tmp_path / 'coverage.json'} is a folder" in result.usage


# -- the verdict first ------------------------------------------------------------------------


def test_the_verdict_is_reported_before_any_file_is_written(tmp_path):
    seen: list[tuple[str, bool]] = []

    def verdict(result: CheckResult) -> None:
        seen.append((result.status, any(tmp_path.iterdir())))

    result = check(options(FAULTY, tmp_path), on_verdict=verdict)
    assert seen == [("fail", False)]
    assert result.failure_path is not None and result.failure_path.exists()


@pytest.mark.parametrize(("backend", "verdict", "code"),
                         [(GOOD, "PASS", 0), (FAULTY, "NONCONFORMANCE", 1)])
def test_a_full_disk_keeps_the_verdict_and_names_the_file(app, tmp_path, full_disk, backend,
                                                         verdict, code):
    full_disk()
    result = invoke(app, backend, tmp_path)
    assert result.exit_code == code, result.output
    out = flat(result.output)
    assert verdict in out and out.index(verdict) < out.index("error:")
    assert "cannot write it: No space left on device; the disk is full" in out
    assert "the verdict above stands" in out
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no temporary file


# -- never an older failure next to a newer coverage ------------------------------------------


def _failed_once(out: Path) -> str:
    first = check(options(FAULTY, out))
    assert first.status == "fail" and (out / "failure.json").exists()
    return (out / "failure.json").read_text()


def test_a_passing_run_removes_the_older_failure(tmp_path):
    _failed_once(tmp_path)
    assert check(options(GOOD, tmp_path)).status == "pass"
    assert (tmp_path / "coverage.json").exists() and not (tmp_path / "failure.json").exists()


def test_an_interrupted_run_leaves_no_older_run_files(tmp_path, monkeypatch):
    _failed_once(tmp_path)

    def interrupted(*args: object, **kwargs: object) -> CheckResult:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        check(options(GOOD, tmp_path))
    assert not (tmp_path / "failure.json").exists()
    assert not (tmp_path / "coverage.json").exists()


def test_a_passing_run_on_a_full_disk_leaves_no_older_failure(tmp_path, full_disk):
    _failed_once(tmp_path)
    full_disk()
    result = check(options(GOOD, tmp_path))
    assert result.status == "pass" and result.exit_code == 0
    assert result.output_error is not None and "coverage.json" in result.output_error
    assert not (tmp_path / "failure.json").exists()


def test_a_failing_run_writes_its_files_together(tmp_path):
    _failed_once(tmp_path)
    failure = json.loads((tmp_path / "failure.json").read_text())
    coverage = json.loads((tmp_path / "coverage.json").read_text())
    assert failure["file"] == "failure" and coverage["file"] == "coverage"
    assert len(list(tmp_path.glob("replay_*.py"))) == 1
    assert not list(tmp_path.glob(".*"))  # no temporary file left


# -- atomic writes ----------------------------------------------------------------------------


def test_a_write_that_fails_leaves_every_file_as_it_was(tmp_path, monkeypatch):
    from authspec.harness import runfiles

    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("old a")
    real = Path.write_text

    def second_fails(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if self.name.startswith(".b.json."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", second_fails)
    with pytest.raises(runfiles.RunFileWriteError, match=r"b\.json: cannot write it"):
        runfiles.write_files_atomically({first: "new a", second: "new b"})
    assert first.read_text() == "old a" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    monkeypatch.undo()
    runfiles.write_files_atomically({first: "new a", second: "new b"})
    assert (first.read_text(), second.read_text()) == ("new a", "new b")


SURROGATE_ADAPTER = """
import sys
sys.path.insert(0, {folder!r})
from adapters import TinyCard
from authspec.harness.adapter import Response

class Surrogate(TinyCard):
    def _issue(self, pin):
        return Response.rejected("bad\\udc80")

def make_surrogate():
    return Surrogate()
"""


def test_an_answer_that_is_not_utf_8_is_still_written(tmp_path):
    adapter = tmp_path / "surrogate.py"
    adapter.write_text(SURROGATE_ADAPTER.format(folder=str(Path(ADAPTERS).parent)))
    out = tmp_path / "out"
    result = check(options(f"{adapter}:make_surrogate", out))
    # An undeclared code is a backend error (issue 9): the answer reaches the run files only
    # through the error, and writing them must not fail on it.
    assert result.status == "error" and result.output_error is None, result.output_error
    assert result.error is not None and r"bad\udc80" in str(result.error)  # shown escaped
    assert (out / "coverage.json").exists()
