"""A roadmap of the spec's state space, for jumping to deep states at the start of a run.

Random steps rarely reach a state five or six well-chosen steps deep (an OTP card issued,
activated and paid with; a U-key with its driver but no certificate). The roadmap explores
the *model* breadth first from its initial state, taking every transition it can make
fire and every refusal with effects or a target it can make decide (the third wrong
password locks the account: a route may pass through refusals), with parameters found by
``Analysis.repair`` from deterministic defaults, and keeps the
first concrete state reached for each abstract state (machine states, and the bool and
enum variables). For a *goal* (a transition or a rejection of the spec), ``find`` returns
the index of the first node, in breadth-first order, where the goal can be made to happen,
and ``route`` the steps from the initial state to it: the route with the fewest entries
among the nodes explored. An entry may repeat a counting step many times, so that is not
always the fewest concrete steps; and only the first concrete state of each abstract state
is explored, within ``max_nodes`` nodes and ``max_depth`` entries, so a goal reachable only
through another concrete state, or beyond those limits, has no route.

The roadmap depends only on the spec (never on the run so far), so the steps it gives are
a pure function of the goal drawn by Hypothesis: replays and shrinking stay deterministic.
It is built lazily, as goals are asked for, within ``max_nodes`` states.

In a system with entities (model/entities.py) the instances are interchangeable: the
roadmap explores the steps of each kind's first instance only (the product of every
customer's states would fill ``max_nodes`` with interleavings), and the route to another
instance's goal is the first instance's, with the instances swapped (``stand_in``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from authspec.model import Executable, Outcome, Snapshot
from authspec.model.entities import first_instances, stand_in, swapped
from authspec.model.ir import System

from .conditions import goal_steps
from .strategies import MISS, Analysis, Memory, candidates


@dataclass(frozen=True)
class Goal:
    """Make ``element`` (a transition or rejection id) decide an ``event``; an
    ``isolation`` goal is a rejection made to hold alone (see ``isolated_params``); a
    ``condition`` goal a condition of its guard evaluated true, false, or alone deciding
    (conditions.py)."""

    kind: str  # "transition" | "rejection" | "isolation" | "condition"
    id: str
    event: str
    # A "condition" goal (conditions.py): which condition of the guard of ``id``, and what
    # of it is wanted ("true", "false" or "mcdc").
    index: int = -1
    what: str = ""


@dataclass(frozen=True)
class _Node:
    snapshot: Snapshot
    parent: int | None
    step: tuple[str, dict[str, Any], int] | None  # event, parameters, times
    depth: int
    #: the counting steps (``analysis.counters`` indexes) this node's route left one step
    #: before the abstract state changes: the nodes below such a node are explored apart
    #: from those with the same abstract state elsewhere (the 999th use of a card, and
    #: then a U-key applied for: a payment by U-key there evaluates the last use's guard)
    edge: tuple[int, ...] = ()


def isolated_params(roadmap: Roadmap, analysis: Analysis, model: Executable, goal: Goal,
                    memory: Memory) -> dict[str, Any] | None:
    """Parameters under which the refusal ``goal`` alone holds in the model's current state
    (see ``sweep.isolated_refusal``), or None."""
    options = candidates(analysis, model, goal.event, memory)
    start = roadmap.defaults(goal.event, options)
    accepted = analysis.repair(model, goal.event, start, options)
    if analysis.score(model, goal.event, accepted) == 0:
        start = accepted
    params = analysis.repair(model, goal.event, start, options, refuse_by=goal.id,
                             isolated=True)
    if analysis.refusal_score(model, goal.event, params, goal.id, isolated=True) >= MISS:
        return None
    return params


def moved(outcome: Outcome, before: Snapshot, after: Snapshot) -> bool:
    """Whether a step did what a route or a counter expects of it: it was accepted, or it
    was refused by a refusal with effects or a target that changed the state."""
    return outcome.accepted or after != before


def goals_of(system: System) -> list[Goal]:
    """Every transition and rejection of the system, in spec order."""
    goals = [Goal("transition", t.id, t.event) for t in system.transitions]
    goals.extend(Goal("rejection", r.id, r.event) for r in system.rejections)
    return goals


class Roadmap:
    """See the module docstring."""

    def __init__(self, system: System, analysis: Analysis, *, max_nodes: int = 1500,
                 max_depth: int = 12, repeat_cap: int = 5000):
        self.system = system
        self.repeat_cap = repeat_cap
        self.analysis = analysis
        self.model = Executable(system)
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self._ints = [v.qualified for v in system.variables if v.type.kind in ("int", "str")]
        root = _Node(self.model.snapshot(), None, None, 0)
        self.nodes: list[_Node] = [root]
        self._seen: set[tuple[tuple[Any, ...], tuple[int, ...]]] = {(self._key(), ())}
        self._expanded = 0  # nodes [0, _expanded) have their children
        self._found: dict[Goal, int | None] = {}
        self._counted: set[Any] = set()
        self.goals = goals_of(system)
        first = first_instances(system)
        self._others = frozenset(m.name for m in system.machines
                                 if m.instance and m.instance != first[m.entity])
        #: after it (time.monotonic()), condition goals are not looked for any more and
        #: ``routes_by_depth`` stops (the goals left are then not known to be out of reach)
        self.deadline: float | None = None

    def _key(self) -> tuple[Any, ...]:
        model = self.model
        return (tuple(model.states[m.name] for m in self.system.machines),
                tuple(value for name, value in model.values.items()
                      if name not in self._ints))

    # -- building ----------------------------------------------------------------------------
    def defaults(self, event: str, options: Mapping[str, list[Any]]) -> dict[str, Any]:
        """Starting parameters: false, the first enum value, the first candidate; the
        repair then changes only what the goal needs."""
        return {name: (False if values and isinstance(values[0], bool)
                       else values[0] if values else "")
                for name, values in options.items()}

    def _expand(self, index: int) -> None:
        node = self.nodes[index]
        if node.depth >= self.max_depth:
            return
        model, analysis = self.model, self.analysis
        for event in analysis.events:
            model.restore(node.snapshot)
            semantics, here = analysis.semantics, model.current
            targets = [t.transition.id for t in semantics.candidate_transitions(here, event)
                       if t.transition.machine not in self._others
                       ] if analysis.may_accept(model, event) else []
            refusals = [r.rejection.id for r in semantics.applicable_refusals(here, event)
                        if r.rejection.changes_state and r.rejection.machine not in self._others]
            for target in targets:
                model.restore(node.snapshot)
                options = candidates(analysis, model, event, Memory())
                params = analysis.repair(model, event, self.defaults(event, options), options,
                                         target=frozenset({target}))
                if analysis.score(model, event, params, frozenset({target})):
                    continue
                if model.step(event, params).accepted:
                    self._add(index, node, event, params)
            for refusal in refusals:
                model.restore(node.snapshot)
                options = candidates(analysis, model, event, Memory())
                params = analysis.repair(model, event, self.defaults(event, options), options,
                                         refuse_by=refusal)
                if analysis.refusal_score(model, event, params, refusal) == 0:
                    model.step(event, params)
                    self._add(index, node, event, params)
        self._expand_counters(index, node)
        model.restore(node.snapshot)

    def _add(self, index: int, node: _Node, event: str, params: dict[str, Any]) -> None:
        """The model's state after one step from ``node``, as a new node (if new)."""
        key = (self._key(), node.edge)
        if key in self._seen or len(self.nodes) >= self.max_nodes:
            return
        self._seen.add(key)
        self.nodes.append(_Node(self.model.snapshot(), index, (event, params, 1),
                                node.depth + 1, node.edge))

    def _expand_counters(self, index: int, node: _Node) -> None:
        """Children reached by repeating a counting step until the abstract state changes
        (e.g. the 1000th use of a card), within ``repeat_cap`` steps: the state one step
        before the change and the state after it. Done from the first node (breadth
        first) where each counter can count, as it costs a thousand model steps."""
        model, analysis = self.model, self.analysis
        for number, counter in enumerate(analysis.counters):
            if counter in self._counted:
                continue
            model.restore(node.snapshot)
            if (model.states[counter.machine] not in counter.sources
                    or not analysis.may_accept(model, counter.event)):
                continue
            counts = counter.remaining(model.values, model.states)
            if not counts:
                continue
            options = candidates(analysis, model, counter.event, Memory())
            params = analysis.counting_params(model, counter,
                                              self.defaults(counter.event, options), options)
            if params is None:
                continue
            self._counted.add(counter)
            start = self._key()
            before = model.snapshot()
            for times in range(1, min(max(counts), self.repeat_cap) + 1):
                if not moved(model.step(counter.event, params), before, model.snapshot()):
                    break
                key = self._key()
                if key != start:
                    if times > 1:
                        edge = (*node.edge, number)
                        self._seen.add((start, edge))
                        self.nodes.append(_Node(before, index,
                                                (counter.event, params, times - 1),
                                                node.depth + 1, edge))
                    if (key, node.edge) not in self._seen:
                        self._seen.add((key, node.edge))
                        self.nodes.append(_Node(model.snapshot(), index,
                                                (counter.event, params, times),
                                                node.depth + 1, node.edge))
                    break
                before = model.snapshot()

    def _node(self, index: int) -> bool:
        """Make sure node ``index`` exists (expanding breadth first); False if it cannot."""
        while index >= len(self.nodes) and self._expanded < len(self.nodes):
            self._expand(self._expanded)
            self._expanded += 1
        return index < len(self.nodes)

    # -- queries -----------------------------------------------------------------------------
    def achievable(self, goal: Goal) -> bool:
        """Whether ``goal`` can happen in the roadmap model's current state."""
        model, analysis = self.model, self.analysis
        semantics, here = analysis.semantics, model.current
        if goal.kind == "condition":
            if self._past_deadline():
                return False
            return goal_steps(self, analysis, model, goal, Memory()) is not None
        if goal.kind == "isolation":
            return (any(r.rejection.id == goal.id
                        for r in semantics.applicable_refusals(here, goal.event))
                    and isolated_params(self, analysis, model, goal, Memory()) is not None)
        if goal.kind == "rejection":
            if not any(r.rejection.id == goal.id
                       for r in semantics.applicable_refusals(here, goal.event)):
                return False
        elif not any(t.transition.id == goal.id
                     for t in semantics.candidate_transitions(here, goal.event)):
            return False
        options = candidates(analysis, model, goal.event, Memory())
        start = self.defaults(goal.event, options)
        if goal.kind == "rejection":
            params = analysis.repair(model, goal.event, start, options, refuse_by=goal.id)
            return analysis.refusal_score(model, goal.event, params, goal.id) == 0
        target = frozenset({goal.id})
        params = analysis.repair(model, goal.event, start, options, target=target)
        return analysis.score(model, goal.event, params, target) == 0

    def find(self, goal: Goal) -> int | None:
        """The index of the first node (breadth first) where ``goal`` is achievable (for
        another instance's goal: its first instance's, see the module docstring)."""
        twin = self._stand_in(goal)
        if twin is not None:
            return self.find(twin[0])
        if goal in self._found:
            return self._found[goal]
        found = None
        index = 0
        while self._node(index):
            self.model.restore(self.nodes[index].snapshot)
            if self.achievable(goal):
                found = index
                break
            index += 1
        self._found[goal] = found
        return found

    def routes_by_depth(self, goals: list[Goal]
                        ) -> Iterator[tuple[Goal, list[tuple[str, dict[str, Any], int]]]]:
        """Each achievable goal with its route, the shallowest first (spec order among
        goals of the same node). Costs what ``route`` of every goal costs, but the first
        answers come before the deep nodes are explored."""
        wanted: dict[Goal, list[Goal]] = {}
        for goal in goals:
            twin = self._stand_in(goal)
            wanted.setdefault(goal if twin is None else twin[0], []).append(goal)
        # -1: not looked for yet; None: known to be out of reach.
        pending = [goal for goal in wanted if self._found.get(goal, -1) is not None]
        index = 0
        while pending and not self._past_deadline() and self._node(index):
            here: list[Goal] = []
            still: list[Goal] = []
            for goal in pending:
                found = self._found.get(goal, -1)
                if found == -1:
                    self.model.restore(self.nodes[index].snapshot)
                    found = index if self.achievable(goal) else -1
                    if found == index:
                        self._found[goal] = index
                (here if found == index else still).append(goal)
            for goal in here:
                for asked in wanted[goal]:
                    yield asked, self._renamed(asked, self.path(index))
            pending = still
            index += 1
        if self._past_deadline():
            return  # cut short: what is pending is not known to be out of reach
        for goal in pending:
            self._found.setdefault(goal, None)

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def path(self, index: int) -> list[tuple[str, dict[str, Any], int]]:
        """The concrete steps from the initial state to node ``index``."""
        steps = []
        node: _Node | None = self.nodes[index]
        while node is not None and node.step is not None:
            steps.append(node.step)
            node = self.nodes[node.parent] if node.parent is not None else None
        return steps[::-1]

    def route(self, goal: Goal) -> list[tuple[str, dict[str, Any], int]] | None:
        index = self.find(goal)
        return None if index is None else self._renamed(goal, self.path(index))

    def _stand_in(self, goal: Goal) -> tuple[Goal, str, str, str] | None:
        """Another instance's goal: the first instance's goal, the kind, the two instances."""
        if not self._others:
            return None
        found = stand_in(self.system, goal.id)
        if found is None:
            return None
        twin_id, kind, instance = found
        first = first_instances(self.system)[kind]
        return Goal(goal.kind, twin_id, goal.event), kind, first, instance

    def _renamed(self, goal: Goal, route: list[tuple[str, dict[str, Any], int]]
                 ) -> list[tuple[str, dict[str, Any], int]]:
        twin = self._stand_in(goal)
        if twin is None:
            return route
        _, kind, first, instance = twin
        return [(event, swapped(self.system, event, params, kind, first, instance), times)
                for event, params, times in route]
