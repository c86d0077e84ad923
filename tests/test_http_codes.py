"""Codes of one's own on a Python backend: ``--codes FILE`` and ``--compare outcome``.

``make_coarse_adapter`` is the reference bank's adapter answering one ``missing_documents``
code wherever the bank says ``registration_form_missing``, ``agreement_not_acknowledged``,
``id_invalid``, ``card_missing`` or ``card_application_missing``: a bank with coarser codes
than the spec's. With a codes file saying what ``missing_documents`` stands for it passes,
and those reasons are reported as checked only coarsely; with ``--compare outcome`` it
passes; with neither it fails on a reason code the spec does not declare.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from authspec.bank.adapter import make_adapter
from authspec.harness.adapter import Response
from authspec.harness.codes import load_codes
from authspec.harness.options import CheckOptions
from authspec.harness.run import check
from authspec.model import load
from authspec.model.errors import SpecErrors

COARSE = ("registration_form_missing", "agreement_not_acknowledged", "id_invalid",
          "card_missing", "card_application_missing")
HERE = Path(__file__).resolve()
BACKEND = f"{HERE}:make_coarse_adapter"


class CoarseBank:
    """The reference bank's adapter, its five document refusals answered as one code."""

    def __init__(self) -> None:
        self.inner = make_adapter()

    def reset(self) -> None:
        self.inner.reset()

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        answer = self.inner.perform(event, params)
        if answer.reason in COARSE:
            return Response.rejected("missing_documents")
        return answer

    def close(self) -> None:
        self.inner.close()


def make_coarse_adapter() -> CoarseBank:
    return CoarseBank()


@pytest.fixture
def codes_file(tmp_path: Path) -> Path:
    file = tmp_path / "codes.yaml"
    file.write_text("missing_documents: [" + ", ".join(COARSE) + "]\n", encoding="utf-8")
    return file


def options(tmp_path: Path, **changes: Any) -> CheckOptions:
    return CheckOptions(backend=BACKEND, seed=2, database=None, out=str(tmp_path / "out"),
                        max_seconds=15, **changes)


def test_without_codes_the_coarse_bank_fails_on_an_undeclared_code(tmp_path: Path) -> None:
    result = check(options(tmp_path))
    # An undeclared code is a backend error (issue 9), naming the code and the declared ones.
    assert result.status == "error" and result.error is not None, result
    assert "rejected('missing_documents')" in str(result.error)
    assert "a reason code the spec does not declare" in str(result.error)


def test_with_a_many_to_one_codes_file_the_coarse_bank_passes(tmp_path: Path,
                                                              codes_file: Path) -> None:
    result = check(options(tmp_path, codes=str(codes_file)))
    assert result.status == "pass", result.failure and result.failure.detail
    assert result.coverage is not None
    coarse = result.coverage.coarse_only()
    assert coarse and set(coarse) <= set(COARSE), coarse
    data = json.loads((tmp_path / "out" / "coverage.json").read_text(encoding="utf-8"))
    assert data["coarse"]["only_coarsely"] == coarse
    assert set(data["coarse"]["reasons"]) == set(coarse)


def test_compare_outcome_passes_and_every_refusal_is_coarse(tmp_path: Path) -> None:
    result = check(options(tmp_path, compare="outcome"))
    assert result.status == "pass", result.failure and result.failure.detail
    assert result.coverage is not None
    refused = {r for r, n in result.coverage.reasons.items() if n}
    assert set(result.coverage.coarse_only()) == refused


def test_compare_outcome_still_catches_an_acceptance(tmp_path: Path) -> None:
    result = check(CheckOptions(backend="mutant:quota_limit_30001", seed=2, database=None,
                                out=str(tmp_path / "out"), max_seconds=15, compare="outcome"))
    assert result.status == "fail"
    assert result.failure is not None
    assert "the backend answered accepted" in result.failure.detail


def test_the_command_line_reports_the_reasons_checked_only_coarsely(tmp_path: Path,
                                                                    codes_file: Path) -> None:
    import typer

    from authspec.harness import commands

    app = typer.Typer()
    commands.register(app)
    run = CliRunner().invoke(app, [
        "check", "--backend", BACKEND, "--codes", str(codes_file), "--seed", "2",
        "--database", "none", "--out", str(tmp_path / "out"), "--max-seconds", "10",
        "--no-coverage-table"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "checked only coarsely: " in run.output
    bad = CliRunner().invoke(app, ["check", "--backend", BACKEND, "--compare", "nothing",
                                   "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert bad.exit_code == 2 and "--compare nothing: give one of reason, outcome" in bad.output


def test_a_codes_file_naming_no_spec_reason_is_a_located_error(tmp_path: Path) -> None:
    file = tmp_path / "codes.yaml"
    file.write_text("missing_documents: [id_invalid, id_invalidd]\n", encoding="utf-8")
    with pytest.raises(SpecErrors, match=r"(?s)codes.yaml:1:33: error: code 'missing_documents' "
                                         r"maps to 'id_invalidd'.*did you mean 'id_invalid'"):
        load_codes(file, load(None))


def test_a_replay_accepts_a_code_standing_for_the_recorded_reason() -> None:
    from authspec.harness.replay import _matches

    coarse = Response(False, "missing_documents", stands_for=frozenset(COARSE))
    assert _matches(coarse, "rejected(id_invalid)")
    assert not _matches(coarse, "rejected(wrong_password)")
    assert not _matches(coarse, "accepted")
    assert _matches(Response.rejected("id_invalid"), "rejected(id_invalid)")
    assert not _matches(Response.rejected("missing_documents"), "rejected(id_invalid)")
