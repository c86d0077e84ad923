"""The sweep: every goal (transition or rejection) made to happen once, deterministically.

For each goal, shallowest first: a fresh example, the roadmap's route to a state where the
goal can happen, the goal itself with parameters repaired towards it, then the refusals
around it (for a refusal, the same refusal with every other condition of the step holding;
other values the same rejection refuses, each boundary of a step that stays put, old values
of a replaced string variable, the refusals of an event that counts). A refusal with effects
or a target changes the state like a transition: it is sent once, with every other condition
of the step holding where it can, then the refusals of its event from the new values.

In a system with entities (model/entities.py), the route to each goal of a kind's first
instance is twinned with the same route for every other instance (``twin_route``): one
customer's step that acts on another's state is then seen at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from authspec.model.entities import first_instances, twin_route
from authspec.model.expr import ParamRef, VarRef, walk
from authspec.model.ir import Rejection, System, Transition

from .conditions import condition_goals, goal_steps, still_missing
from .coverage import Coverage
from .driver import Driver, RunState
from .probe import probe_hidden_state
from .records import Failure, Nonconformance
from .roadmap import Goal, Roadmap, isolated_params, moved
from .strategies import candidates


def goal_params(driver: Driver, goal: Goal) -> dict[str, Any]:
    """Deterministic parameters that make ``goal`` happen now (the roadmap's defaults,
    repaired towards the goal)."""
    analysis, model = driver.analysis, driver.model
    options = candidates(analysis, model, goal.event, driver.memory)
    start = driver.run.roadmap.defaults(goal.event, options)
    if goal.kind == "rejection":
        return analysis.repair(model, goal.event, start, options, refuse_by=goal.id)
    return analysis.repair(model, goal.event, start, options, target=frozenset({goal.id}))


MAX_VARIANTS = 12


def isolated_refusal(driver: Driver, goal: Goal) -> dict[str, Any] | None:
    """Parameters under which the refusal ``goal`` alone holds (MC/DC): they start from
    parameters the model would accept (where it can) and change as few as the refusal
    needs, so every other condition of the step holds. An implementation that forgets this
    one check among several is then caught, even when another missing condition would have
    been refused with the same code. None when no such parameters exist in this state."""
    return isolated_params(driver.run.roadmap, driver.analysis, driver.model, goal,
                           driver.memory)


def refusal_variants(driver: Driver, goal: Goal,
                     params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Other values of the parameters the rejection's guard reads that it refuses too
    (each boundary and each way of breaking a policy), at most ``MAX_VARIANTS``."""
    analysis, model = driver.analysis, driver.model
    element = next(r.element for r in analysis.rejections[goal.event]
                   if r.element.id == goal.id)
    if element.guard is None:
        return []
    read = [n.name for n in walk(element.guard.tree) if isinstance(n, ParamRef)]
    options = candidates(analysis, model, goal.event, driver.memory)
    variants: list[dict[str, Any]] = []
    for name in dict.fromkeys(read):
        for value in options.get(name, ()):
            if value == params[name] or len(variants) >= MAX_VARIANTS:
                continue
            trial = {**params, name: value}
            if analysis.refusal_score(model, goal.event, trial, goal.id) == 0:
                variants.append(trial)
    return variants


def _sweep_goal(driver: Driver, goal: Goal) -> None:
    """The goal step, then the refusals around it (refusals change nothing)."""
    model = driver.model
    if goal.kind == "isolation":
        isolated = isolated_refusal(driver, goal)
        if isolated is not None:
            driver.send(goal.event, isolated, "goal")
        return
    params = goal_params(driver, goal)
    if goal.kind == "transition":
        params = _new_strings(driver, goal, params)
    if goal.kind == "rejection" and goal_rejection(driver, goal).changes_state:
        _sweep_changing_refusal(driver, goal, params)
        return
    driver.send(goal.event, params, "goal")
    if goal.kind == "rejection":
        isolated = isolated_refusal(driver, goal)
        if isolated is not None and isolated != params:
            driver.send(goal.event, isolated, "goal")
        if isolated is None:
            driver.run.not_isolated.append(goal)
        for variant in refusal_variants(driver, goal, params):
            driver.send(goal.event, variant, "goal")
        return
    transition = goal_transition(driver, goal)
    if transition.target is None or transition.target in transition.sources:
        _sweep_boundaries(driver, goal, params)
    variables = {f"{transition.machine}.{a.variable}" for a in transition.effects}
    _sweep_old_values(driver, {v for v in variables if isinstance(model.values.get(v), str)})
    if any(isinstance(model.values.get(v), int) and not isinstance(model.values.get(v), bool)
           for v in variables):
        _sweep_counted_refusals(driver, goal)


def goal_rejection(driver: Driver, goal: Goal) -> Rejection:
    """The spec's refusal that a rejection goal names."""
    return next(r.element for r in driver.analysis.rejections[goal.event]
                if isinstance(r.element, Rejection) and r.element.id == goal.id)


def _sweep_changing_refusal(driver: Driver, goal: Goal, params: dict[str, Any]) -> None:
    """A refusal that changes the state (a wrong password counted): sent once, alone
    deciding where it can (MC/DC), then each refusal of its event from the new values."""
    isolated = isolated_refusal(driver, goal)
    if isolated is None:
        driver.run.not_isolated.append(goal)
    driver.send(goal.event, isolated or params, "goal")
    _sweep_counted_refusals(driver, goal)


def goal_transition(driver: Driver, goal: Goal) -> Transition:
    """The spec's transition that a transition goal names."""
    return next(t.element for t in driver.analysis.transitions[goal.event]
                if isinstance(t.element, Transition) and t.element.id == goal.id)


def _sweep_boundaries(driver: Driver, goal: Goal, params: Mapping[str, Any]) -> None:
    """A step that stays put: the same goal again with each boundary of its integers."""
    analysis, model = driver.analysis, driver.model
    target = frozenset({goal.id})
    options = candidates(analysis, model, goal.event, driver.memory)
    ints = [p.name for p in analysis.events[goal.event].params if p.type.kind == "int"]
    sent = 0
    for name in ints:
        for value in reversed(options[name]):
            trial = {**params, name: value}
            if (value != params[name] and sent < MAX_VARIANTS
                    and analysis.score(model, goal.event, trial, target) == 0):
                driver.send(goal.event, trial, "goal")
                sent += 1


def _sweep_counted_refusals(driver: Driver, goal: Goal) -> None:
    """Something was counted: each refusal of the same event, from the new values."""
    analysis, model = driver.analysis, driver.model
    for rejection in analysis.applicable_rejections(model, goal.event):
        if rejection.guard is None:
            continue
        follow = Goal("rejection", rejection.id, goal.event)
        params = goal_params(driver, follow)
        if analysis.refusal_score(model, goal.event, params, follow.id) == 0:
            driver.send(goal.event, params, "goal")
            for variant in refusal_variants(driver, follow, params):
                driver.send(goal.event, variant, "goal")


def _new_strings(driver: Driver, goal: Goal, params: dict[str, Any]) -> dict[str, Any]:
    """When the goal stores a parameter in a string variable (a new password), a value
    other than the one the variable holds: replacing a password by itself tests nothing."""
    analysis, model = driver.analysis, driver.model
    transition = goal_transition(driver, goal)
    target = frozenset({goal.id})
    options = candidates(analysis, model, goal.event, driver.memory)
    for assignment in transition.effects:
        tree = assignment.value.tree
        current = model.values.get(f"{transition.machine}.{assignment.variable}")
        if not (isinstance(tree, ParamRef) and isinstance(current, str)
                and params.get(tree.name) == current):
            continue
        for value in options.get(tree.name, ()):
            trial = {**params, tree.name: value}
            if value != current and analysis.score(model, goal.event, trial, target) == 0:
                params = trial
                break
    return params


def _sweep_old_values(driver: Driver, changed: set[str]) -> None:
    """A string variable (a password) was replaced: every refusal that compares a parameter
    with it must now refuse its earlier values too (the old password stops working)."""
    analysis, model = driver.analysis, driver.model
    if not changed:
        return
    old_values = [value for name in sorted(changed)
                  for value in driver.memory.seen.get(name, ()) if value != model.values[name]]
    if not old_values:
        return
    for event, rejections in analysis.rejections.items():
        for compiled in rejections:
            rejection = compiled.element
            if rejection.guard is None or not compiled.compiled.in_source(model.current.states):
                continue
            nodes = list(walk(rejection.guard.tree))
            if not any(isinstance(n, VarRef) and n.qualified in changed for n in nodes):
                continue
            params = goal_params(driver, Goal("rejection", rejection.id, event))
            if analysis.refusal_score(model, event, params, rejection.id) != 0:
                continue
            for name in dict.fromkeys(n.name for n in nodes if isinstance(n, ParamRef)):
                for value in old_values:
                    trial = {**params, name: value}
                    if analysis.refusal_score(model, event, trial, rejection.id) == 0:
                        driver.send(event, trial, "goal")


def sweep(run: RunState, goals: list[Goal] | None = None) -> tuple[Failure, Goal] | None:
    """Make every goal happen once, from a fresh start along its route, with the
    refusals around it: the first nonconformance found, with its goal, or None.
    Deterministic; each goal costs its route and a few steps (a thousand more for goals
    past a counter's boundary)."""
    # Shallowest goals first, so that a fault one step from the start is not found only
    # after the thousand-step counters. Then each refusal that could not be made to hold
    # alone where it first can happen, at the first state where it can (MC/DC).
    run.not_isolated.clear()
    found = _sweep_goals(run, run.roadmap.goals if goals is None else goals)
    if found is None and goals is None:
        isolation = [Goal("isolation", g.id, g.event) for g in run.not_isolated]
        found = _sweep_goals(run, isolation)
    if found is None and goals is None:
        found = sweep_conditions(run)
    return found


def _first_instance_elements(system: System) -> frozenset[str]:
    """The ids of the transitions and refusals of each kind's first instance."""
    first = first_instances(system)
    ids: set[str] = set()
    for machine in system.machines:
        if machine.instance and machine.instance == first[machine.entity]:
            ids.update(t.id for t in machine.transitions)
            ids.update(r.id for r in machine.rejections)
    return frozenset(ids)


def _routed(run: RunState, route: list[tuple[str, dict[str, Any], int]]) -> Driver | None:
    """A fresh example driven along ``route``: its driver, or None if the route did not
    move where the roadmap said it would."""
    driver = Driver(run)
    for event, params, times in route:
        for _ in range(times):
            before = driver.model.current
            if not moved(driver.send(event, params, "route"), before, driver.model.current):
                return None
    return driver


def sweep_conditions(run: RunState) -> tuple[Failure, Goal] | None:
    """Last, what condition coverage still lacks (conditions.py): each condition of a guard
    not yet seen true, or false, or alone deciding (MC/DC), on the roadmap's shortest route
    to where it can happen, the shallowest first; a goal met on the way is skipped."""
    coverage, roadmap = run.coverage, run.roadmap
    limit = run.options.max_seconds
    share = CONDITION_SHARE * limit if limit is not None else CONDITION_SECONDS
    coverage.unreachable()  # the Z3 proofs first (remembered): their gaps are not goals
    roadmap.deadline = time.monotonic() + share
    try:
        return _sweep_conditions(run, coverage, roadmap)
    finally:
        roadmap.deadline = None


#: the share of the time budget (or, with none, the seconds) the condition goals may take
#: (the deepest of the shipped specs, a U-key payment at a card's 999th use, is found
#: about 4 s into the roadmap)
CONDITION_SHARE = 0.2
CONDITION_SECONDS = 10.0


def _sweep_conditions(run: RunState, coverage: Coverage,
                      roadmap: Roadmap) -> tuple[Failure, Goal] | None:
    for goal, route in roadmap.routes_by_depth(condition_goals(coverage)):
        if not still_missing(coverage, goal):
            continue
        try:
            driver = _routed(run, route)
            if driver is None:
                continue
            at = driver.model.current
            sets = goal_steps(roadmap, run.analysis, driver.model, goal, driver.memory)
            for number, params in enumerate(sets or ()):
                if number and driver.model.current != at:
                    driver = _routed(run, route)  # the pair's second set: from the same state
                    if driver is None:
                        break
                driver.send(goal.event, params, "goal")
        except Nonconformance as error:
            return error.failure, goal
    return None


def _sweep_goals(run: RunState, goals: list[Goal]) -> tuple[Failure, Goal] | None:
    twinned = _first_instance_elements(run.system)
    for goal, found in run.roadmap.routes_by_depth(goals):
        route = twin_route(run.system, found) if goal.id in twinned else found
        driver = Driver(run)
        try:
            arrived = True
            for event, params, times in route:
                for _ in range(times):
                    before = driver.model.current
                    arrived = arrived and moved(driver.send(event, params, "route"), before,
                                                driver.model.current)
            if arrived:
                before = driver.model.current
                _sweep_goal(driver, goal)
                probe_hidden_state(driver, goal, before)
        except Nonconformance as error:
            return error.failure, goal
    return None
