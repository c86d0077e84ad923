"""What a conformance run records, and the exceptions that carry it.

``Step`` is one event sent to both the model and the backend; ``Failure`` is a
nonconformance (the steps up to and including the divergent one). ``Nonconformance``
carries a failure out of a step (an AssertionError, which Hypothesis shrinks);
``BackendAbort`` (the backend failed) and ``RunOver`` (time budget spent) end a run at once
(see ``RunInterrupt``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from authspec.model import Outcome
from authspec.model.errors import AuthspecError

from .adapter import Response
from .backends import BackendFailure

#: which part of the run sent a step: "event", "refused", "repeat" (the Hypothesis rules),
#: "route" (the way to a goal's state), "goal" (the goal and the refusals around it),
#: "replay" (minimisation replaying a shorter trace)
Origin = Literal["event", "refused", "repeat", "route", "goal", "replay"]


@dataclass(frozen=True)
class Step:
    """One event sent to both the model and the backend."""

    index: int  # 1-based position in the example
    event: str
    params: Mapping[str, Any]
    expected: Outcome
    actual: Response | None  # None when the backend failed to answer
    origin: Origin  # which part of the run sent it (see ``Origin``)
    hints: Mapping[str, str] = field(default_factory=dict)  # secret param -> what it is
    outcome_only: bool = False  # compared accepted/refused only (--compare outcome)

    @property
    def conforms(self) -> bool:
        return self.actual is not None and conforms(self.expected, self.actual,
                                                    outcome_only=self.outcome_only)


@dataclass(frozen=True)
class Failure:
    """A nonconformance: the steps up to and including the divergent one."""

    kind: str  # "outcome" | "observation" | "invariant"
    steps: tuple[Step, ...]
    detail: str
    differences: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    view: Mapping[str, Any] = field(default_factory=dict)  # the model's observable state
    # each variable or machine whose observation diverged, with the rules at stake for it
    # (``System.rules_of``); ``rules`` are those of the divergent step
    subjects: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def last(self) -> Step:
        return self.steps[-1]

    @property
    def step_rules(self) -> tuple[str, ...]:
        """The rules of the divergent step (of the invariants broken, for an invariant)."""
        return self.rules or self.last.expected.rules

    @property
    def cited(self) -> tuple[str, ...]:
        """Every rule at stake: the step's, then those of what diverged, each once."""
        return tuple(dict.fromkeys((*self.step_rules,
                                    *(r for _, rules in self.subjects for r in rules))))


class Nonconformance(AuthspecError, AssertionError):
    """The backend answered well but differently from the model."""

    def __init__(self, failure: Failure):
        self.failure = failure
        super().__init__(f"step {failure.last.index} ({failure.last.event}): {failure.detail}")


class RunInterrupt(KeyboardInterrupt):
    """Control flow that ends a run at once: the base of ``BackendAbort`` and ``RunOver``.

    A KeyboardInterrupt on purpose: that is the one exception Hypothesis lets through at
    once, without recording the interrupted test case (any other exception would be shrunk,
    or would make the interrupted case look like flaky data generation). For the same
    reason it is not an ``AuthspecError``. ``run.check`` always catches it.
    """


class BackendAbort(RunInterrupt):
    """The backend failed (exception, timeout, garbage): stop the run, do not shrink."""

    def __init__(self, error: BackendFailure, steps: tuple[Step, ...]):
        self.error = error
        self.steps = steps
        super().__init__(str(error))


class RunOver(RunInterrupt):
    """The time budget is spent (``why`` says which): end the run where it stands."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(why)


def conforms(expected: Outcome, actual: Response, *, outcome_only: bool = False) -> bool:
    """Whether the backend's answer is the model's: accepted, or refused for the same reason
    (a backend code standing for several spec reasons conforms when the model's reason is
    among them; with ``outcome_only``, any refusal conforms to a refusal)."""
    if expected.accepted or outcome_only:
        return actual.accepted == expected.accepted
    if actual.accepted:
        return False
    if actual.stands_for:
        return expected.reason in actual.stands_for
    return actual.reason == expected.reason
