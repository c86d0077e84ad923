"""The conformance state machine, built at run time from the IR.

``build_machine(run)`` makes a Hypothesis ``RuleBasedStateMachine`` subclass with

* ``start`` (initialize): three examples in four first jump to the state of a goal (a
  transition or rejection) along the roadmap's route, then make the goal happen;
* ``step``, one rule that draws one of the actions enabled now, each as likely as the
  others (as Hypothesis draws among enabled rules; one rule is much cheaper for it than
  one per action, each with a precondition):

  - ``event <name>``, enabled while the model could accept the event (some transition
    leaves a current state and no unconditional refusal applies). It draws the parameters
    (strategies.py) and, five times in eight, *repairs* them against the model's guards
    until the model would accept them; two in eight it steers them to a refusal by one
    guarded rejection; otherwise it sends them as drawn;
  - ``refused``: sends an event the model refuses outright in the current state (negative
    testing), with parameters drawn from their domains;
  - ``repeat`` (when the spec has counters, see ``strategies.Counter``): performs one
    counting step (accepted, or a refusal that counts) ``k`` times, ``k`` drawn from the
    boundary counts (remaining-1, remaining, remaining+1, ...) solved from the guards, or a
    small number, so the 1000th use of a card (or the 3rd wrong password) is reached in a
    single rule.

Each machine instance is a ``Driver`` (driver.py): it holds the run's model (reset per
example) and the backend (reset per example), and compares every step. Classes are
generated per spec and backend (``build_machine``); the class name keys the example
database.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from authspec.model.ir import System

from .driver import Driver, RunState
from .roadmap import Goal, moved
from .strategies import Draw, candidates, draw_params, index_strategy

SMALL_REPEAT = st.integers(1, 5)
#: At most this many more refusals are sent after a refused step (see send_other_refusals).
MAX_BATCH = 6


class ConformanceMachine(RuleBasedStateMachine, Driver):
    """Base of the generated machines; ``run`` is set on each generated subclass."""

    run: ClassVar[RunState]  # type: ignore[misc]
    pinned: ClassVar[Goal | None] = None

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        Driver.__init__(self, type(self).run)
        self._param_strategies: dict[str, st.SearchStrategy[dict[str, Any]]] = {}

    def params_of(self, event: str) -> st.SearchStrategy[dict[str, Any]]:
        """The parameters of ``event``, drawn against the model's state at draw time, as one
        strategy: one ``data.draw`` per step instead of one per parameter (each
        ``data.draw`` costs Hypothesis far more than a draw inside a strategy)."""
        strategy = self._param_strategies.get(event)
        if strategy is None:
            analysis, model = self.analysis, self.model

            @st.composite
            def params(draw: Draw) -> dict[str, Any]:
                return draw_params(draw, analysis, model, event, self.memory)

            strategy = self._param_strategies[event] = params()
        return strategy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={len(self.trace)})"

    # -- rules' bodies ---------------------------------------------------------------------
    def do_start(self, data: st.DataObject) -> None:
        """Three examples in four start by jumping to the state of a goal drawn among all
        transitions and rejections (along the roadmap's route), then make the goal
        happen with drawn parameters steered to it."""
        roadmap = self.run.roadmap
        if not self.run.options.roadmap or data.draw(index_strategy(4)) == 0:
            return
        goal = self.pinned or roadmap.goals[data.draw(index_strategy(len(roadmap.goals)))]
        route = roadmap.route(goal)
        if route is None:
            return
        for event, params, times in route:
            for _ in range(times):
                before = self.model.current
                if not moved(self.send(event, params, "route"), before, self.model.current):
                    return
        self.do_goal(goal, data)

    def do_step(self, data: st.DataObject) -> None:
        """One action among those enabled now (see the module docstring)."""
        events = [e for e in self.analysis.events if self.may_accept(e)]
        refused = len(events) < len(self.analysis.events)
        repeat = (self.run.options.repeat and bool(self.analysis.counters)
                  and bool(self.live_counters()))
        count = len(events) + refused + repeat
        if count == 0:
            return
        choice = data.draw(index_strategy(count))
        if choice < len(events):
            self.do_event(events[choice], data)
        elif refused and choice == len(events):
            self.do_refused(data)
        else:
            self.do_repeat(data)

    def do_goal(self, goal: Goal, data: st.DataObject) -> None:
        analysis, model = self.analysis, self.model
        params = data.draw(self.params_of(goal.event))
        options = candidates(analysis, model, goal.event, self.memory)
        if goal.kind == "rejection":
            params = analysis.repair(model, goal.event, params, options, refuse_by=goal.id)
        else:
            params = analysis.repair(model, goal.event, params, options,
                                     target=frozenset({goal.id}))
        self.send(goal.event, params, "goal")

    def do_event(self, event: str, data: st.DataObject) -> None:
        """An event the model may accept now: steer to acceptance (5 in 8), to a refusal
        by one guarded rejection (2 in 8), or send the parameters as drawn (1 in 8)."""
        mode = data.draw(index_strategy(8)) if self.run.options.repair else 0
        params = data.draw(self.params_of(event))
        if mode >= 3:
            params = self.analysis.repair(
                self.model, event, params,
                candidates(self.analysis, self.model, event, self.memory))
        elif mode >= 1:
            params = self.steer_to_refusal(event, params, data, guarded_only=True)
        if not self.send(event, params, "event").accepted and mode:
            self.send_other_refusals(event, params)

    def do_refused(self, data: st.DataObject) -> None:
        """An event the model refuses in this state whatever the parameters: steer to a
        refusal by one of its applicable rejections (3 in 4) or send as drawn."""
        refused = self.refused_events()
        event = refused[data.draw(index_strategy(len(refused)))]
        mode = data.draw(index_strategy(4)) if self.run.options.repair else 0
        params = data.draw(self.params_of(event))
        if mode:
            params = self.steer_to_refusal(event, params, data, guarded_only=False)
        if not self.send(event, params, "refused").accepted and mode:
            self.send_other_refusals(event, params)

    def send_other_refusals(self, event: str, params: dict[str, Any]) -> None:
        """A refusal without effects changes nothing, so while the run is here the event's
        other guarded refusals are sent too: the drawn parameters repaired to each (the same
        state, several refusals tested for the price of one rule). Stops once a refusal
        changed the state (a counted wrong password): the run is no longer here."""
        analysis, model = self.analysis, self.model
        options = candidates(analysis, model, event, self.memory)
        here = model.current
        for rejection in analysis.applicable_rejections(model, event)[:MAX_BATCH]:
            if rejection.guard is None:
                continue
            if model.current != here:
                return
            trial = analysis.repair(model, event, params, options, refuse_by=rejection.id)
            if (trial == params
                    or analysis.refusal_score(model, event, trial, rejection.id) != 0):
                continue
            if self.send(event, trial, "refused").accepted:
                return

    def steer_to_refusal(self, event: str, params: dict[str, Any], data: st.DataObject, *,
                         guarded_only: bool) -> dict[str, Any]:
        options = [r for r in self.analysis.applicable_rejections(self.model, event)
                   if r.guard is not None or not guarded_only]
        if not options:
            return params
        rejection = options[data.draw(index_strategy(len(options)))]
        return self.analysis.repair(
            self.model, event, params,
            candidates(self.analysis, self.model, event, self.memory),
            refuse_by=rejection.id)

    def do_repeat(self, data: st.DataObject) -> None:
        live = self.live_counters()
        counter = live[data.draw(index_strategy(len(live)))]
        model, analysis = self.model, self.analysis
        cap = self.run.options.repeat_cap
        boundary = [k for k in counter.remaining(model.values, model.states) if k <= cap]
        if boundary and data.draw(index_strategy(2)) == 1:
            times = boundary[data.draw(index_strategy(len(boundary)))]
        else:
            times = data.draw(SMALL_REPEAT)
        drawn = data.draw(self.params_of(counter.event))
        options = candidates(analysis, model, counter.event, self.memory)
        params = analysis.counting_params(model, counter, drawn, options)
        if params is None:  # as before counted refusals: steered to a transition anyway
            params = analysis.repair(model, counter.event, drawn, options,
                                     target=frozenset(counter.transitions))
        stalled_in_a_row = 0  # steps that neither were accepted nor changed the state
        for _ in range(times):
            before = model.current
            outcome = self.send(counter.event, params, "repeat")
            stalled_in_a_row = 0 if moved(outcome, before, model.current) \
                else stalled_in_a_row + 1
            if stalled_in_a_row >= 2:
                break


# -- building the class ---------------------------------------------------------------------


def spec_digest(system: System) -> str:
    """A digest of what the machine depends on, stable across processes and paths."""
    parts: list[str] = [system.name, system.otherwise]
    for event in system.events:
        parts.append(f"E {event.name} " + " ".join(
            f"{p.name}:{p.type.describe()}:{','.join(p.policies)}" for p in event.params))
    for policy in system.policies:
        parts.append(f"P {policy.name} {policy.min_length} {policy.max_length} "
                     f"{policy.alphabet} {policy.require} {policy.case_sensitive}")
    for machine in system.machines:
        parts.append(f"M {machine.name} " + " ".join(s.name for s in machine.states))
        parts.extend(f"V {v.qualified} {v.type.describe()} {v.initial!r}"
                     for v in machine.variables)
    for t in system.transitions:
        guard = t.guard.source if t.guard else ""
        effects = ";".join(f"{a.variable}={a.value.source}" for a in t.effects)
        parts.append(f"T {t.id} {t.event} {t.sources} {t.target} {guard} {effects}")
    for r in system.rejections:
        guard = r.guard.source if r.guard else ""
        line = f"R {r.id} {r.event} {r.sources} {guard} {r.reason}"
        if r.changes_state:  # the digest of a spec without counted refusals stays as it was
            effects = ";".join(f"{a.variable}={a.value.source}" for a in r.effects)
            line += f" {r.target} {effects}"
        parts.append(line)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def class_name(system: System, backend: str) -> str:
    """The generated class's name: keys the example database per spec and backend."""
    slug = re.sub(r"\W+", "_", backend).strip("_") or "backend"
    return f"Conformance_{system.name}_{spec_digest(system)[:12]}_{slug}"


def _step_rule() -> Any:
    def step(self: ConformanceMachine, data: st.DataObject) -> None:
        self.do_step(data)

    return rule(data=st.data())(step)


def _start_rule() -> Any:
    def start(self: ConformanceMachine, data: st.DataObject) -> None:
        self.do_start(data)

    return initialize(data=st.data())(start)


def build_machine(run: RunState, pinned: Goal | None = None) -> type[ConformanceMachine]:
    """A RuleBasedStateMachine subclass for ``run`` (see the module docstring), named
    after the spec and ``run.options.backend``, seeded with ``run.options.seed``.

    With ``pinned``, examples that start with a goal always take that one (used to
    reproduce and shrink a failure the sweep found); the class name, hence the example
    database key, then names the goal.
    """
    namespace: dict[str, Any] = {"run": run, "__module__": __name__, "start": _start_rule(),
                                 "pinned": pinned}
    namespace["step"] = _step_rule()
    name = class_name(run.system, run.options.backend)
    if pinned is not None:
        name += "__" + re.sub(r"\W+", "_", pinned.id)
    cls = type(name, (ConformanceMachine,), namespace)
    if run.options.seed is not None:
        cls._hypothesis_internal_use_seed = run.options.seed  # type: ignore[attr-defined]
    return cls
