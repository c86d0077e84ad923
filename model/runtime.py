"""The executable model: a stateful wrapper over the pure semantics.

``Executable`` holds one current ``Snapshot`` and moves it with ``Semantics.step``
(semantics.py states what one event does and is the only place that says it)::

    model = Executable(system, check_invariants=True)
    outcome = model.send("login", password="123456")
    model.configuration, model.values          # read-only views of the current snapshot
    saved = model.snapshot(); model.restore(saved)

``chart(name)`` hands out a genuine python-statemachine chart of one machine, in the
machine's current state (statechart.py); the model itself never goes through
python-statemachine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from statemachine import StateChart

from .errors import AuthspecError
from .ir import Invariant, System
from .semantics import CompiledInvariant, Outcome, Semantics, Snapshot, semantics_of
from .statechart import STATE_PREFIX, SharedModel, chart_class, new_chart, state_field


class Executable:
    """A running instance of a System. Not thread-safe; make one per thread (the compiled
    ``Semantics`` they step with is shared and immutable)."""

    def __init__(self, system: System, *, check_invariants: bool = False):
        self.system = system
        self.semantics: Semantics = semantics_of(system)
        self.check_invariants = check_invariants
        self.current: Snapshot = self.semantics.initial
        self._views: tuple[Snapshot, Mapping[str, str], Mapping[str, Any]] | None = None
        self._chart_classes: dict[str, type[StateChart]] = {}
        self._checked: tuple[Snapshot, list[Invariant]] | None = None
        # After a step that changed state, from a snapshot where every invariant held: the
        # snapshot and the invariants the step could break (the only ones to evaluate there).
        self._touched: tuple[Snapshot, tuple[CompiledInvariant, ...]] | None = None

    # -- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial configuration and initial values."""
        self.current = self.semantics.initial

    def snapshot(self) -> Snapshot:
        return self.current

    def restore(self, snapshot: Snapshot) -> None:
        self.current = self.semantics.check_snapshot(snapshot)

    def _view(self) -> tuple[Snapshot, Mapping[str, str], Mapping[str, Any]]:
        views = self._views
        if views is None or views[0] is not self.current:
            current = self.current
            views = self._views = (current, self.semantics.states_of(current),
                                   self.semantics.values_of(current))
        return views

    @property
    def states(self) -> Mapping[str, str]:
        """Machine name -> its current state (read-only)."""
        return self._view()[1]

    @property
    def values(self) -> Mapping[str, Any]:
        """``machine.variable`` -> its current value (read-only)."""
        return self._view()[2]

    @property
    def configuration(self) -> dict[str, str]:
        """Machine name -> its current state (a copy)."""
        return dict(self.states)

    def chart(self, machine: str) -> StateChart:
        """A python-statemachine chart of one machine, in its current state, on a shared
        model holding the current values (to read or draw; the model does not follow it)."""
        cls = self._chart_classes.get(machine)
        if cls is None:  # system.machine: a clear error for an unknown name
            cls = self._chart_classes[machine] = chart_class(
                self.system, self.system.machine(machine))
        shared = SharedModel(dict(self.values), dict(self.states))
        for name, state in self.states.items():
            setattr(shared, state_field(name), STATE_PREFIX + state)
        return new_chart(cls, machine, shared)

    # -- events --------------------------------------------------------------------------------
    def send(self, event: str, **params: Any) -> Outcome:
        return self.step(event, params)

    def step(self, event: str, params: Mapping[str, Any]) -> Outcome:
        """Process one event; return what the model says of it."""
        before = self.current
        outcome, self.current = self.semantics.step(before, event, params)
        checked = self._checked
        changed = outcome.accepted or self.current is not before  # or a refusal with effects
        if changed and checked is not None and checked[0] is before and not checked[1]:
            # Every invariant held before: only those the step touched can break now.
            self._touched = (self.current, self.semantics.invariants_touched(outcome))
        if self.check_invariants and changed:
            broken = self.violated_invariants()
            if broken:
                raise InvariantViolation(outcome, broken)
        return outcome

    def violated_invariants(self) -> list[Invariant]:
        """The invariants the current snapshot breaks (computed once per snapshot, and
        after a step from a snapshot known to hold them all, only those it touched)."""
        checked, current = self._checked, self.current
        if checked is None or checked[0] is not current:
            touched = self._touched
            only = touched[1] if touched is not None and touched[0] is current else None
            checked = self._checked = (current,
                                       self.semantics.violated_invariants(current, only))
        return list(checked[1])

    def with_state(self, run: Callable[[], Any]) -> Any:
        """Run ``run`` and put the state back as it was (for look-ahead)."""
        saved = self.current
        try:
            return run()
        finally:
            self.current = saved


class InvariantViolation(AuthspecError, AssertionError):
    """An accepted step left the model in a state that breaks invariants of the spec (a spec
    bug: check_invariants=True)."""

    def __init__(self, outcome: Outcome, invariants: list[Invariant]):
        self.outcome = outcome
        self.invariants = invariants
        names = ", ".join(f"{i.id} ({i.expr.source}) at {i.span}" for i in invariants)
        super().__init__(f"after {outcome.event}: invariant broken: {names}")


__all__ = ["Executable", "InvariantViolation", "Outcome", "Snapshot"]
