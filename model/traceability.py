"""The traceability matrix: each rule with what enforces it, each open question with its answer.

Derived from the IR alone, for ``authspec trace``, the review report and CI gates. Each
element is one event's (a ``rejects`` or ``transitions`` entry listing several events gives
one element per event, each citing the entry's rules: an entry whose events answer to
different rules is written as one entry per event, so that each cites its own). Events beyond
the source (``extension: Q..`` in the system file) are listed with the question under which
they are modelled and the elements that act on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import (
    Assumption,
    Event,
    Invariant,
    Policy,
    Question,
    Rejection,
    Rule,
    StepProperty,
    System,
    Transition,
    citing_name,
)

Element = Transition | Rejection | Invariant | Policy | StepProperty


@dataclass(frozen=True)
class RuleRow:
    rule: Rule
    transitions: tuple[Transition, ...]
    rejections: tuple[Rejection, ...]
    invariants: tuple[Invariant, ...]
    policies: tuple[Policy, ...]
    step_properties: tuple[StepProperty, ...] = ()

    @property
    def covered(self) -> bool:
        return bool(self.transitions or self.rejections or self.invariants or self.policies
                    or self.step_properties)


@dataclass(frozen=True)
class QuestionRow:
    question: Question
    assumption: Assumption | None
    citing: tuple[Element, ...]  # elements that cite the question, i.e. follow the assumption

    @property
    def answered(self) -> bool:
        return self.assumption is not None


@dataclass(frozen=True)
class ExtensionRow:
    """An event modelled beyond the source, under the question ``event.extension``."""

    event: Event
    elements: tuple[Element, ...]  # the transitions and refusals of the event

    @property
    def question(self) -> str:
        return self.event.extension


@dataclass(frozen=True)
class Matrix:
    rules: tuple[RuleRow, ...]
    questions: tuple[QuestionRow, ...]
    extensions: tuple[ExtensionRow, ...] = ()

    @property
    def uncovered(self) -> tuple[str, ...]:
        return tuple(r.rule.id for r in self.rules if not r.covered)

    @property
    def unanswered(self) -> tuple[str, ...]:
        return tuple(q.question.id for q in self.questions if not q.answered)

    def as_json(self) -> dict:
        return {
            "rules": [{
                "id": row.rule.id, "clause": row.rule.clause, "reading": row.rule.reading,
                "covered": row.covered,
                "transitions": [t.id for t in row.transitions],
                "rejections": [_rejection(r) for r in row.rejections],
                "invariants": [i.id for i in row.invariants],
                "policies": [p.name for p in row.policies],
                "step_properties": [p.id for p in row.step_properties],
            } for row in self.rules],
            "questions": [{
                "id": row.question.id, "question": row.question.text,
                "answered": row.answered,
                "assumption": ({"en": row.assumption.choice.en, "zh": row.assumption.choice.zh,
                                "rules": list(row.assumption.rules)}
                               if row.assumption else None),
                "citing": [citing_name(e) for e in row.citing],
            } for row in self.questions],
            "extensions": [{
                "event": row.event.name, "question": row.question,
                "elements": [citing_name(e) for e in row.elements],
            } for row in self.extensions],
        }


def _rejection(r: Rejection) -> dict:
    """A refusal in the matrix: its id and reason, and what it changes when it has effects
    or a target (a counted wrong password)."""
    row: dict = {"id": r.id, "reason": r.reason}
    if r.changes_state:
        row["effects"] = {a.variable: a.value.source for a in r.effects}
        row["target"] = r.target
    return row


def matrix(system: System) -> Matrix:
    cited = system.citations()

    def of(rule_id: str, kind: type) -> tuple:
        return tuple(e for e in cited.get(rule_id, ()) if isinstance(e, kind))

    rules = tuple(RuleRow(rule, of(rule.id, Transition), of(rule.id, Rejection),
                          of(rule.id, Invariant), of(rule.id, Policy),
                          of(rule.id, StepProperty))
                  for rule in system.catalogue.rules)
    answers = {a.question: a for a in system.assumptions}
    questions = tuple(QuestionRow(q, answers.get(q.id), tuple(cited.get(q.id, ())))
                      for q in system.catalogue.questions)
    acting: tuple[Transition | Rejection, ...] = (*system.transitions, *system.rejections)
    extensions = tuple(ExtensionRow(event, tuple(e for e in acting if e.event == event.name))
                       for event in system.events if event.extension)
    return Matrix(rules, questions, extensions)
