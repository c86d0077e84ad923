"""``authspec check --backend http`` with the shipped mapping against the real reference service.

The service is ``authspec serve-reference`` as a process on a free loopback port (started and
stopped by test_service.py's helpers); the check is the real command line. Against the
reference bank it passes; against the ``quota_limit_30001`` mutant it fails with a minimal
trace, printed also as curl command lines with the secrets masked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_service import _serve, _stop

REPO = Path(__file__).resolve().parent.parent
MAPPING = REPO / "examples" / "http" / "reference-bank.yaml"
AUTHSPEC = str(Path(sys.executable).with_name("authspec"))


def served(*args: str) -> Iterator[str]:
    process, url = _serve("--allow-reset", "--kdf-iterations", "1000", *args)
    try:
        yield url
    finally:
        _stop(process)
    assert process.returncode == 0


@pytest.fixture
def reference() -> Iterator[str]:
    yield from served()


@pytest.fixture
def quota_mutant() -> Iterator[str]:
    yield from served("--mutant", "quota_limit_30001")


def check(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUTHSPEC, "check", "--backend", "http", "--mapping", str(MAPPING), "--base-url", url,
         "--database", "none", "--out", str(out), "--seed", "3", "--no-coverage-table",
         *extra], capture_output=True, text=True, timeout=180)


def test_the_shipped_mapping_passes_against_the_reference_service(reference: str,
                                                                   tmp_path: Path) -> None:
    run = check(reference, tmp_path, "--max-seconds", "12")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^PASS(, but incomplete:)? http conforms to \w+: \d+ examples, \d+ steps",
                     run.stdout,
                     re.MULTILINE), run.stdout
    events = re.search(r"^coverage: .*events (\d+)/(\d+)", run.stdout, re.MULTILINE)
    assert events and events.group(1) == events.group(2), run.stdout  # every event sent
    assert (tmp_path / "coverage.json").exists()


def test_the_quota_mutant_fails_with_a_minimal_trace_and_its_curl_lines(
        quota_mutant: str, tmp_path: Path) -> None:
    run = check(quota_mutant, tmp_path, "--max-seconds", "20")
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "NONCONFORMANCE http differs" in out
    assert "Minimal failing trace (3 steps)" in out, out
    assert "expected rejected(quota_exceeded), the backend answered accepted" in out
    curls = [line for line in out.splitlines() if line.startswith("curl ")]
    assert len(curls) == 3, out
    assert all(f"{quota_mutant}/customers" in line for line in curls)
    assert '"payment_password": "••••••"' in curls[-1]
    assert "Authorization: Bearer ••••••" in curls[-1]
    assert "login_password\": \"••••••\"" in curls[0]
    assert "--show-secrets" not in out
    replay = next(tmp_path.glob("replay_*.py"))
    again = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(replay)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "AUTHSPEC_REPLAY_BASE_URL": quota_mutant})
    assert again.returncode == 1, again.stdout + again.stderr  # replayed over HTTP
    assert "step 3 pay: the spec expects rejected(quota_exceeded), the backend answered " \
           "accepted" in again.stdout, again.stdout


def test_show_secrets_prints_the_requests_in_clear(quota_mutant: str, tmp_path: Path) -> None:
    run = check(quota_mutant, tmp_path, "--max-seconds", "20", "--show-secrets")
    assert run.returncode == 1, run.stdout + run.stderr
    curls = [line for line in run.stdout.splitlines() if line.startswith("curl ")]
    assert curls and not any("••••••" in line for line in curls), run.stdout
    assert re.search(r'"payment_password": "[^"•]+"', curls[-1]), curls[-1]


def test_fresh_customers_need_no_reset_endpoint(tmp_path: Path) -> None:
    text = MAPPING.read_text(encoding="utf-8")
    start, end = text.index("reset:"), text.index("events:")
    (tmp_path / "no-reset.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    (tmp_path / "reference_hooks.py").write_text(
        (MAPPING.parent / "reference_hooks.py").read_text(encoding="utf-8"), encoding="utf-8")
    process, url = _serve("--kdf-iterations", "1000")  # no --allow-reset
    try:
        run = subprocess.run(
            [AUTHSPEC, "check", "--backend", "http", "--mapping",
             str(tmp_path / "no-reset.yaml"), "--base-url", url, "--database", "none",
             "--out", str(tmp_path / "out"), "--seed", "3", "--max-seconds", "8",
             "--no-coverage-table"], capture_output=True, text=True, timeout=120)
    finally:
        _stop(process)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith(("PASS http conforms", "PASS, but incomplete: http conforms"))
