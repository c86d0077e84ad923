"""specs/rules.yaml carries shared/RULES.md faithfully, and every shipped spec names its schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from authspec.model.ir import System
from authspec.model.loader import schema

ROOT = Path(__file__).resolve().parent.parent
RULES_MD = ROOT.parent / "shared" / "RULES.md"


@pytest.mark.skipif(not RULES_MD.exists(), reason="shared/RULES.md is not beside this checkout")
def test_catalogue_matches_rules_md(system: System) -> None:
    text = RULES_MD.read_text(encoding="utf-8")
    rules = dict(re.findall(r"^\|\s*(R\d+)\s*\|(.*?)\|", text, re.M))
    questions = dict(re.findall(r"^\|\s*(Q\d+)\s*\|(.*?)\|\s*$", text, re.M))
    assert {r.id: r.clause for r in system.catalogue.rules} == {
        k: v.strip() for k, v in rules.items()}
    assert {q.id: q.text for q in system.catalogue.questions} == {
        k: v.strip() for k, v in questions.items()}


def test_catalogue_has_r1_to_r22_and_q1_to_q17(system: System) -> None:
    assert [r.id for r in system.catalogue.rules] == [f"R{i}" for i in range(1, 23)]
    assert [q.id for q in system.catalogue.questions] == [f"Q{i}" for i in range(1, 18)]
    assert all(r.clause and r.reading for r in system.catalogue.rules)


def test_schema_is_valid_and_shipped_specs_point_editors_at_it() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    on_disk = json.loads((ROOT / "model" / "schema" / "authspec.schema.json").read_text())
    assert on_disk == schema()
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../model/schema/authspec.schema.json"
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema())


def test_every_transition_and_refusal_cites_a_rule(system: System) -> None:
    for element in (*system.transitions, *system.rejections, *system.all_invariants):
        assert element.rules, element.id


def test_labels_in_english_and_chinese(system: System) -> None:
    for machine in system.machines:
        assert machine.label.en and machine.label.zh
        for state in machine.states:
            assert state.label.en and state.label.zh, f"{machine.name}.{state.name}"
    for reason in system.reasons:
        assert reason.label.en and reason.label.zh, reason.code
    for assumption in system.assumptions:
        assert assumption.choice.en and assumption.choice.zh
