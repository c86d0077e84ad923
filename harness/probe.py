"""Black-box probes of hidden state: what a step changed, shown by later outcomes.

Without ``observe()`` a backend's counters and stored passwords are hidden: a fault that
resets a counter the spec keeps (or keeps one the spec resets), counts a refusal the spec
does not count, or keeps an old password working shows only in a later outcome. After a
sweep goal, ``probe_hidden_state`` takes the variables the goal's step changed in the model
(its snapshots before and after, compared) and, for a refusal, the counters the event's
transitions read (a refusal that should count nothing), and probes them:

* in place, and (after a transition) after each *entry*: one accepted step of another
  event after which every machine is in a state it was in earlier in the example (log
  out, reset, re-apply; found with the pure step of the model), each from a fresh
  example that replays the goal's route and step;
* there, each refusal whose guard reads a probed variable (with the old values of a
  replaced string too: the old password), from the shortest route of accepted steps that
  reaches a state where it decides; after an entry, also one deciding refusal of each
  event (what the re-entered state now refuses);
* the boundary, from an example of its own (the route, the goal's step, the entry: the
  shortest trace that shows it): a counter of a probed variable repeated up to just past
  its next boundary (the remaining uses), or else one transition that reads a probed
  variable, one that changes state first (a payment of exactly the remaining quota).

Each re-entry (the transitions it fires, the variables probed) is probed once per run,
and after a goal reached by a long route (a counter driven to its end) only the first.

Everything is derived from the spec (which guards read which variables, which effects
write them): the probes know nothing of any domain. Deterministic, like the sweep.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from authspec.model import Executable, Snapshot
from authspec.model.expr import ParamRef, VarRef, walk

from .driver import Driver, RunState
from .roadmap import Goal
from .strategies import Analysis, Counter, Guarded, candidates

MAX_ENTRIES = 3  # re-entering steps probed after one goal, each in its own example
LONG_ROUTE = 200  # steps of a goal's example beyond which one entry only is probed
MAX_ROUTE = 3  # accepted steps at most on the way to a state where a probe decides
MAX_NODES = 150  # snapshots explored at most to find such a route

Step = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Probe:
    """A refusal (``kind`` "rejection") or transition whose guard reads a probed variable."""

    kind: str
    event: str
    element: Guarded

    @property
    def id(self) -> str:
        return self.element.element.id


def probe_hidden_state(driver: Driver, goal: Goal, before: Snapshot) -> None:
    """Probe the variables the goal's step changed (see the module docstring): in place,
    then from fresh examples of the goal's route and step alone (the shortest traces):
    the boundary after a refusal, or each re-entering step after a transition. Raises
    ``Nonconformance`` on the first difference."""
    watched = watched_variables(driver, goal, before)
    if not watched:
        return
    core = [(step.event, dict(step.params)) for step in driver.trace[:_goal_step(driver) + 1]]
    probe_here(driver, watched, entered=False, boundary=False)
    fresh = _replayed(driver.run, core)
    if goal.kind != "transition":
        # A refusal should have counted nothing: the boundary shows a refusal counted.
        _boundary(fresh, watched, [p for p in probes_of(driver.analysis, watched)
                                   if p.kind == "transition"])
        return
    visited = visited_states(driver.run, core)
    done = _probed(driver.run)
    entries: list[Step] = []
    for event, params, fired in entry_steps(fresh, visited, goal.event, watched):
        key = (fired, watched)  # the same re-entry, probed already for a shallower goal
        # After a long route (a counter driven to its end) only the first entry is probed.
        if key not in done and len(entries) < (MAX_ENTRIES if len(core) <= LONG_ROUTE else 1):
            done.add(key)
            entries.append((event, params))
    transitions = [p for p in probes_of(driver.analysis, watched) if p.kind == "transition"]
    for index, (event, params) in enumerate(entries):
        example = fresh if index == 0 else _replayed(driver.run, core)
        example.send(event, params, "goal")
        probe_here(example, watched, entered=True, boundary=False)
        # The boundary from its own example: the shortest trace that shows it.
        example = _replayed(driver.run, [*core, (event, params)])
        _boundary(example, watched, transitions)


def _replayed(run: RunState, steps: Sequence[Step]) -> Driver:
    """A fresh example that has sent ``steps`` (as a route)."""
    driver = Driver(run)
    for event, params in steps:
        driver.send(event, params, "route")
    return driver


def _goal_step(driver: Driver) -> int:
    """The index in the trace of the goal's own step (the first the route did not send)."""
    return next((i for i, step in enumerate(driver.trace) if step.origin == "goal"),
                len(driver.trace) - 1)


_PROBED: dict[int, tuple[weakref.ref[RunState], set[Any]]] = {}


def _probed(run: RunState) -> set[Any]:
    """The re-entries this run has probed already (each once per run)."""
    entry = _PROBED.get(id(run))
    if entry is None or entry[0]() is not run:
        key = id(run)
        entry = _PROBED[key] = (weakref.ref(run, lambda _: _PROBED.pop(key, None)), set())
    return entry[1]


def watched_variables(driver: Driver, goal: Goal, before: Snapshot) -> frozenset[str]:
    """The int and string variables the goal's step changed; for a refusal that changed
    nothing, the int variables the event's transitions read where they could fire."""
    analysis, model = driver.analysis, driver.model
    semantics = analysis.semantics
    old, new = semantics.values_of(before), model.values
    kinds = {v.qualified: v.type.kind for v in analysis.system.variables}
    changed = {name for name, value in new.items()
               if kinds.get(name) in ("int", "str") and old.get(name) != value}
    # A value stored again (a reset to the same password) is a write all the same.
    fired = {t for step in driver.trace if step.origin == "goal"
             for t in step.expected.transitions}
    changed |= {f"{t.machine}.{a.variable}" for t in analysis.system.transitions
                if t.id in fired for a in t.effects
                if kinds.get(f"{t.machine}.{a.variable}") in ("int", "str")}
    if changed or goal.kind == "transition":
        return frozenset(changed)
    states = model.current.states
    read = {name for t in analysis.transitions[goal.event] if t.compiled.in_source(states)
            for name in _reads(t) if kinds.get(name) == "int"}
    return frozenset(read)


def _reads(guarded: Guarded) -> set[str]:
    guard = guarded.element.guard
    if guard is None:
        return set()
    return {n.qualified for n in walk(guard.tree) if isinstance(n, VarRef)}


def probes_of(analysis: Analysis, watched: Iterable[str]) -> list[Probe]:
    """Every refusal, then every transition, whose guard reads a watched variable."""
    names = set(watched)
    refusals = [Probe("rejection", event, g) for event, table in analysis.rejections.items()
                for g in table if _reads(g) & names]
    transitions = [Probe("transition", event, g)
                   for event, table in analysis.transitions.items()
                   for g in table if _reads(g) & names]
    return [*refusals, *transitions]


def visited_states(run: RunState, steps: Sequence[Step]) -> dict[str, set[str]]:
    """The states each machine was in along ``steps`` from the initial state (pure)."""
    semantics = run.analysis.semantics
    snapshot = semantics.initial
    visited: dict[str, set[str]] = {}
    for event, params in [("", {}), *steps]:
        if event:
            _, snapshot = semantics.step(snapshot, event, params)
        for machine, state in semantics.states_of(snapshot).items():
            visited.setdefault(machine, set()).add(state)
    return visited


def accepted_steps(analysis: Analysis, model: Executable, driver: Driver) -> list[Step]:
    """One step per transition that can be made to fire now (parameters repaired to it),
    in spec order: the ways out of the current state."""
    found: list[Step] = []
    states = model.current.states
    for event, table in analysis.transitions.items():
        if not analysis.may_accept(model, event):
            continue
        for guarded in table:
            if not guarded.compiled.in_source(states):
                continue
            params = _params_for(driver, model, event, guarded.element.id, "transition")
            if params is not None and (event, params) not in found:
                found.append((event, params))
    return found


def entry_steps(driver: Driver, visited: Mapping[str, set[str]], goal_event: str,
                watched: frozenset[str]) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Accepted steps of other events than the goal's that take a transition into a named
    state, after which every machine is in a state it was in before (log out, reset,
    re-apply), with the transitions they fire: those that write a watched variable first."""
    analysis = driver.analysis
    semantics = analysis.semantics
    here = driver.model.current
    elements = {g.element.id: g.element for table in analysis.transitions.values()
                for g in table}
    entries: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
    writes: list[bool] = []
    for event, params in accepted_steps(analysis, driver.model, driver):
        if event == goal_event:
            continue
        outcome, after = semantics.step(here, event, params)
        fired = [elements[t] for t in outcome.transitions]
        if not outcome.accepted or all(t.target is None for t in fired):
            continue
        if all(s in visited.get(m, ()) for m, s in semantics.states_of(after).items()):
            entries.append((event, params, outcome.transitions))
            writes.append(any(f"{t.machine}.{a.variable}" in watched
                              for t in fired for a in t.effects))
    order = sorted(range(len(entries)), key=lambda i: not writes[i])
    return [entries[i] for i in order]


def _params_for(driver: Driver, model: Executable, event: str, element: str,
                kind: str) -> dict[str, Any] | None:
    """Parameters that make ``element`` decide ``event`` in ``model``'s state, or None."""
    analysis = driver.analysis
    options = candidates(analysis, model, event, driver.memory)
    start = driver.run.roadmap.defaults(event, options)
    if kind == "rejection":
        params = analysis.repair(model, event, start, options, refuse_by=element)
        return params if analysis.refusal_score(model, event, params, element) == 0 else None
    target = frozenset({element})
    params = analysis.repair(model, event, start, options, target=target)
    return params if analysis.score(model, event, params, target) == 0 else None


def probe_here(driver: Driver, watched: frozenset[str], *, entered: bool,
               boundary: bool) -> None:
    """The refusals that read a watched variable (old values included), the refusals of
    a re-entered state, then (with ``boundary``) the boundary of a watched variable."""
    probes = probes_of(driver.analysis, watched)
    if entered:
        _refusals_of_state(driver)
    for probe in probes:
        if probe.kind == "rejection" and not _changes_state(probe):
            _send_refusal(driver, probe, watched)
    if boundary:
        _boundary(driver, watched, [p for p in probes if p.kind == "transition"])


def _changes_state(probe: Probe) -> bool:
    element = probe.element.element
    return bool(element.effects) or element.target is not None


def _send_refusal(driver: Driver, probe: Probe, watched: frozenset[str]) -> None:
    """The refusal from here or from the shortest route to where it decides, then with each
    old value of a watched string variable it compares a parameter with."""
    params = _params_for(driver, driver.model, probe.event, probe.id, "rejection")
    if params is None:
        route = shortest_route(driver, lambda m: _params_for(
            driver, m, probe.event, probe.id, "rejection") is not None)
        if route is None:
            return
        for event, step_params in route:
            driver.send(event, step_params, "route")
        params = _params_for(driver, driver.model, probe.event, probe.id, "rejection")
        if params is None:
            return
    driver.send(probe.event, params, "goal")
    analysis, model = driver.analysis, driver.model
    olds = [value for name in sorted(watched) if isinstance(model.values.get(name), str)
            for value in driver.memory.seen.get(name, ()) if value != model.values[name]]
    nodes = list(walk(probe.element.element.guard.tree)) \
        if probe.element.element.guard is not None else []
    for name in dict.fromkeys(n.name for n in nodes if isinstance(n, ParamRef)):
        for value in olds:
            trial = {**params, name: value}
            if trial != params and analysis.refusal_score(model, probe.event, trial,
                                                          probe.id) == 0:
                driver.send(probe.event, trial, "goal")


def _refusals_of_state(driver: Driver) -> None:
    """One deciding refusal of each event (that changes nothing) in the current state."""
    analysis, model = driver.analysis, driver.model
    for event in analysis.events:
        for rejection in analysis.applicable_rejections(model, event):
            if rejection.effects or rejection.target is not None:
                continue
            params = _params_for(driver, model, event, rejection.id, "rejection")
            if params is not None:
                driver.send(event, params, "goal")
                break


def _boundary(driver: Driver, watched: frozenset[str], transitions: list[Probe]) -> None:
    """A live counter of a watched variable repeated just past its next boundary, or else
    one transition that reads a watched variable (a state-changing one first)."""
    analysis = driver.analysis
    counters = [c for c in analysis.counters if c.variable in watched]
    for counter in counters:
        if _repeat_counter(driver, counter):
            return
    ranked = sorted(transitions, key=lambda p: not _moves(p))
    for probe in ranked:
        params = _params_for(driver, driver.model, probe.event, probe.id, "transition")
        if params is not None:
            driver.send(probe.event, params, "goal")
            return


def _moves(probe: Probe) -> bool:
    element = probe.element.element
    return element.target is not None and element.target not in element.sources


def _counting(driver: Driver, model: Executable, counter: Counter) -> dict[str, Any] | None:
    if model.states[counter.machine] not in counter.sources:
        return None
    options = candidates(driver.analysis, model, counter.event, driver.memory)
    start = driver.run.roadmap.defaults(counter.event, options)
    return driver.analysis.counting_params(model, counter, start, options)


def _repeat_counter(driver: Driver, counter: Counter) -> bool:
    """The counter's step repeated up to two past its farthest boundary, from here or the
    shortest route to where it counts; False when it cannot count from here."""
    params = _counting(driver, driver.model, counter)
    if params is None:
        route = shortest_route(driver, lambda m: _counting(driver, m, counter) is not None)
        if route is None:
            return False
        for event, step_params in route:
            driver.send(event, step_params, "route")
        params = _counting(driver, driver.model, counter)
        if params is None:
            return False
    model = driver.model
    counts = counter.remaining(model.values, model.states)
    times = min(max(counts, default=1), driver.run.options.repeat_cap)
    for _ in range(times):
        driver.send(counter.event, params, "repeat")
    return True


def shortest_route(driver: Driver, reached: Any) -> list[Step] | None:
    """The fewest accepted steps (at most ``MAX_ROUTE``) from the current state to one
    where ``reached(model)`` holds, breadth first with the pure step; None if none."""
    scratch = Executable(driver.analysis.system)
    semantics = driver.analysis.semantics
    frontier: list[tuple[Snapshot, list[Step]]] = [(driver.model.current, [])]
    seen = {driver.model.current}
    for _ in range(MAX_ROUTE):
        following: list[tuple[Snapshot, list[Step]]] = []
        for snapshot, path in frontier:
            scratch.restore(snapshot)
            for event, params in accepted_steps(driver.analysis, scratch, driver):
                outcome, after = semantics.step(snapshot, event, params)
                if not outcome.accepted or after in seen or len(seen) >= MAX_NODES:
                    continue
                seen.add(after)
                scratch.restore(after)
                if reached(scratch):
                    return [*path, (event, params)]
                scratch.restore(snapshot)
                following.append((after, [*path, (event, params)]))
        frontier = following
    return None
