"""Hypothesis strategies for event parameters, derived from the IR and the model's state.

Nothing here knows the bank: every value comes from the declared domains, the policies,
the guards of the spec and the current values of the model.

Integers
    Drawn mostly at boundaries: the type's ``min``/``max`` and, for every comparison in a
    guard of the event that involves the parameter, the value where the comparison flips
    and its two neighbours (c-1, c, c+1). The comparison is solved at run time against the
    model's current values, so ``spent + amount < 30000`` yields the amount *remaining*
    (remaining-1, remaining, remaining+1), and ``amount <= 100`` yields 99/100/101.
Strings
    From each policy the parameter names: conforming values (lengths min, max, between),
    lengths min-1 and max+1, one value missing each required character class, values
    holding a forbidden character, the empty string; and from the model: the current
    value of every string variable (e.g. the right password), its case-swapped variant,
    near misses (one character changed, dropped or added) and the earlier values of those
    variables in this run (old passwords).
Booleans and enumerations
    Every value.

``Analysis`` also derives, from the guards, what is needed to steer a run (see
machine.py): whether an event can possibly be accepted now, a *repair* that changes drawn
parameters one at a time until the model accepts them (so deep states are reached while
the drawn values stay as they were wherever they do not matter), and the *counters*:
variables a transition or a refusal (``do:`` on a ``rejects`` entry: a wrong password
counted) increments by a constant and a guard compares, for the repeat rule.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from hypothesis import strategies as st

from authspec.model import Executable
from authspec.model.expr import (
    Binary,
    Evaluator,
    Lit,
    Node,
    ParamRef,
    VarRef,
    char_class_test,
    compile_expr,
    unparse,
    walk,
)
from authspec.model.ir import CHAR_CLASSES, Event, Param, Policy, Rejection, System, Transition
from authspec.model.semantics import (
    CompiledRefusal,
    CompiledTransition,
    Semantics,
    Snapshot,
    semantics_of,
)

_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
#: Weight of one false conjunct of the guard a repair aims at (see ``Analysis.score``).
MISS = 100

#: Sample characters of each class (every one satisfies ``char_class_test`` of its class).
CLASS_CHARS: dict[str, str] = {
    "digit": "0123456789",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "letter": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "space": " ",
    "punct": "!#$%&*+-./:;<=>?@_~'\"()[]^`{|}\\,",
    "other": "\u00e9\u00fc\u4e2d\u6587\u20ac\t",
}
_UNIVERSE = "".join(dict.fromkeys("".join(CLASS_CHARS[c] for c in CHAR_CLASSES)))

#: Relative weights of the string categories (known values of the model weigh more).
STRING_WEIGHTS: dict[str, int] = {
    "current": 4, "swapcase": 2, "history": 2, "near": 1,
    "conforming": 3, "too_short": 1, "too_long": 1, "missing": 1, "forbidden": 1,
    "empty": 1, "text": 1,
}


# -- linear boundaries of guards -------------------------------------------------------------


@dataclass(frozen=True)
class Linear:
    """One comparison ``left op right`` of a guard, seen as a function of one unknown.

    The unknown is a parameter (``kind == "param"``) or a variable (``"var"``); the rest
    of the comparison reads only variables, states and constants. ``root`` solves
    ``left - right == 0`` for the unknown at the current state, when that is linear.
    """

    kind: str
    name: str
    diff: Evaluator
    source: str

    def _at(self, x: int, values: Mapping[str, Any], states: Mapping[str, str]) -> Any:
        if self.kind == "param":
            return self.diff({self.name: x}, values, states)
        return self.diff({}, {**values, self.name: x}, states)

    def root(self, values: Mapping[str, Any], states: Mapping[str, str]) -> int | None:
        try:
            f0, f1, f2 = (self._at(x, values, states) for x in (0, 1, 2))
        except Exception:  # a guard the analysis cannot evaluate alone: no boundary
            return None
        if not all(isinstance(f, int) and not isinstance(f, bool) for f in (f0, f1, f2)):
            return None
        slope = f1 - f0
        if slope == 0 or f2 - f1 != slope:
            return None
        return -f0 // slope


def _param_refs(node: Node) -> set[str]:
    return {n.name for n in walk(node) if isinstance(n, ParamRef)}


def _var_refs(node: Node) -> set[str]:
    return {n.qualified for n in walk(node) if isinstance(n, VarRef)}


def _comparisons(tree: Node | None) -> Iterable[Binary]:
    if tree is None:
        return ()
    return (n for n in walk(tree) if isinstance(n, Binary) and n.op in _COMPARISONS)


def _diff(node: Binary, policies: Mapping[str, Policy]) -> Evaluator:
    return compile_expr(Binary(node.offset, "-", node.left, node.right), policies)


# -- counters (for the repeat rule) ----------------------------------------------------------


@dataclass(frozen=True)
class Counter:
    """An int variable that transitions (or refusals) on ``event`` move by a constant
    ``step``."""

    variable: str  # "machine.var"
    machine: str
    event: str
    step: int
    transitions: tuple[str, ...]  # ids of the transitions that move it
    sources: frozenset[str]  # states of the machine in which one of them may fire
    bounds: tuple[Linear, ...]  # comparisons of the variable in the event's guards
    refusals: tuple[str, ...] = ()  # ids of the refusals that move it (a counted refusal)

    def remaining(self, values: Mapping[str, Any], states: Mapping[str, str]) -> list[int]:
        """Repeat counts that land on and around each boundary (at least 1)."""
        current = values[self.variable]
        counts: set[int] = set()
        for bound in self.bounds:
            root = bound.root(values, states)
            if root is None:
                continue
            distance, rest = divmod(root - current, self.step)
            if distance < 0 or (distance == 0 and rest):
                continue
            counts.update(k for k in (distance - 1, distance, distance + 1, distance + 2)
                          if k >= 1)
        return sorted(counts)


def _increment(transition: Transition | Rejection, variable: str) -> int | None:
    """The constant ``c`` if ``transition`` (or a refusal) assigns
    ``variable := variable +/- c``."""
    machine = transition.machine
    for assignment in transition.effects:
        if f"{machine}.{assignment.variable}" != variable:
            continue
        tree = assignment.value.tree
        if not isinstance(tree, Binary) or tree.op not in ("+", "-"):
            return None
        left, right = tree.left, tree.right
        if isinstance(left, VarRef) and left.qualified == variable and isinstance(right, Lit):
            step = right.value if tree.op == "+" else -right.value
        elif (tree.op == "+" and isinstance(right, VarRef) and right.qualified == variable
              and isinstance(left, Lit)):
            step = left.value
        else:
            return None
        return step if isinstance(step, int) and not isinstance(step, bool) and step else None
    return None


def _merged(old: Counter, new: Counter) -> Counter:
    """One counter of a variable and an event, from two elements that move it."""
    return Counter(old.variable, old.machine, old.event, old.step,
                   (*old.transitions, *new.transitions), old.sources | new.sources,
                   tuple({**{b.source: b for b in old.bounds},
                          **{b.source: b for b in new.bounds}}.values()),
                   (*old.refusals, *new.refusals))


# -- the analysis ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Guarded:
    """A transition or refusal as the analysis sees it: the semantics' compiled element
    (semantics.py) and the top-level ``and`` terms of its guard, compiled over the same
    snapshots, to measure how far parameters are from making the guard hold."""

    compiled: CompiledTransition | CompiledRefusal
    conjuncts: tuple[Evaluator, ...] = ()
    #: the parameters each conjunct reads (``None``: the conjunct reads no parameter that
    #: can be named statically, so it is re-evaluated whenever any parameter changes)
    conjunct_params: tuple[frozenset[str], ...] = ()
    guard_params: frozenset[str] = frozenset()

    @property
    def element(self) -> Transition | Rejection:
        compiled = self.compiled
        return (compiled.transition if isinstance(compiled, CompiledTransition)
                else compiled.rejection)

    def missing(self, params: Mapping[str, Any], snapshot: Snapshot) -> int:
        """How many of the guard's conjuncts are false (0: the guard holds)."""
        count = 0
        values, states = snapshot.values, snapshot.states
        for term in self.conjuncts:
            try:
                count += not term(params, values, states)
            except Exception:
                count += 1
        return count

    def holds(self, params: Mapping[str, Any], snapshot: Snapshot) -> bool:
        guard = self.compiled.guard
        if guard is None:
            return True
        try:
            return bool(guard(params, snapshot.values, snapshot.states))
        except Exception:
            return False


def _conjunct_nodes(expr: Any) -> list[Node]:
    if expr is None:
        return []
    terms: list[Node] = []
    stack = [expr.tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary) and node.op == "and":
            stack.extend((node.right, node.left))
        else:
            terms.append(node)
    return terms


def _guarded(semantics: Semantics, compiled: CompiledTransition | CompiledRefusal,
             expr: Any) -> Guarded:
    """``compiled`` with the top-level ``and`` terms of its guard ``expr`` and the
    parameters each reads (what ``_Scorer`` re-evaluates when one parameter changes)."""
    terms = _conjunct_nodes(expr)
    return Guarded(compiled, tuple(semantics.compile(term) for term in terms),
                   tuple(frozenset(_param_refs(term)) for term in terms),
                   frozenset(_param_refs(expr.tree)) if expr is not None else frozenset())


#: a term of a scored guard: ("h", i) the whole guard of refusal i holds; ("r", j) conjunct
#: j of the refusal under test is false; ("t", i, j) conjunct j of transition i is false;
#: ("f", i) the whole guard of transition i holds
_Key = tuple[Any, ...]


def _holds(guarded: Guarded, params: Mapping[str, Any], snapshot: Snapshot) -> int:
    return int(guarded.holds(params, snapshot))


def _false(term: Evaluator, params: Mapping[str, Any], snapshot: Snapshot) -> int:
    try:
        return int(not term(params, snapshot.values, snapshot.states))
    except Exception:
        return 1


class _Scorer:
    """The scores of one ``Analysis.repair``: exactly what ``Analysis.score`` (or
    ``refusal_score``) gives, for parameters that differ from the current ones in one
    parameter, re-evaluating only the guard terms that read that parameter (the snapshot
    does not change during a repair, so the other terms keep their values)."""

    def __init__(self, analysis: Analysis, snapshot: Snapshot, event: str,
                 params: Mapping[str, Any], *, target: frozenset[str] | None,
                 refuse_by: str | None, isolated: bool) -> None:
        states = snapshot.states
        self.snapshot = snapshot
        self.params = dict(params)
        self.refuse_by, self.isolated = refuse_by, isolated
        self.refusals = [r for r in analysis.rejections[event] if r.compiled.in_source(states)]
        self.tested = next((i for i, r in enumerate(self.refusals)
                            if r.element.id == refuse_by), None)
        transitions = [t for t in analysis.transitions[event] if t.compiled.in_source(states)]
        self.readers: dict[str, list[tuple[_Key, Callable[[Mapping[str, Any]], int]]]] = {}
        self.always: list[tuple[_Key, Callable[[Mapping[str, Any]], int]]] = []
        for i, refusal in enumerate(self.refusals):
            self._term(("h", i), refusal.guard_params, partial(_holds, refusal))
        if refuse_by is None:
            self.missing = [i for i, t in enumerate(transitions)
                            if target is None or t.element.id in target]
            for i in self.missing:
                self._conjunct_terms("t", transitions[i], i)
        else:
            self.missing = []
            if self.tested is not None:
                self._conjunct_terms("r", self.refusals[self.tested], None)
            self.firing = list(range(len(transitions))) if isolated else []
            for i in self.firing:
                self._term(("f", i), transitions[i].guard_params,
                           partial(_holds, transitions[i]))
        self.values: dict[_Key, int] = {
            key: evaluate(self.params) for key, evaluate in self._all_terms()}
        # Each term counts towards one sum (its bucket); a trial adjusts only the sums of
        # the terms it changed.
        self.bucket = {key: self._bucket_of(key) for key in self.values}
        self.sums: dict[Any, int] = dict.fromkeys(
            ("bad", "higher", "lower", "missing", "fires",
             *(("t", i) for i in self.missing)), 0)
        for key, value in self.values.items():
            if self.bucket[key] is not None:
                self.sums[self.bucket[key]] += value

    def _bucket_of(self, key: _Key) -> Any:
        kind = key[0]
        if kind == "h":
            if self.refuse_by is None or self.tested is None:
                return "bad"
            return ("higher" if key[1] < self.tested
                    else "lower" if key[1] > self.tested else None)
        if kind == "t":
            return ("t", key[1])
        return "missing" if kind == "r" else "fires"

    def _all_terms(self) -> Iterable[tuple[_Key, Callable[[Mapping[str, Any]], int]]]:
        seen: set[_Key] = set()
        for terms in (*self.readers.values(), self.always):
            for key, evaluate in terms:
                if key not in seen:
                    seen.add(key)
                    yield key, evaluate

    def _conjunct_terms(self, kind: str, guarded: Guarded, index: int | None) -> None:
        prefix: _Key = (kind,) if index is None else (kind, index)
        for j, (term, reads) in enumerate(zip(guarded.conjuncts, guarded.conjunct_params,
                                              strict=True)):
            self._term((*prefix, j), reads, partial(_false, term))

    def _term(self, key: _Key, reads: frozenset[str],
              evaluate: Callable[..., int]) -> None:
        snapshot = self.snapshot

        def bound(params: Mapping[str, Any]) -> int:
            return evaluate(params, snapshot)

        if not reads:
            self.always.append((key, bound))
        for name in reads:
            self.readers.setdefault(name, []).append((key, bound))

    def _changed(self, name: str, value: Any) -> dict[_Key, int]:
        params = {**self.params, name: value}
        return {key: evaluate(params) for key, evaluate in self.readers.get(name, ())}

    def _sums_with(self, changed: Mapping[_Key, int]) -> dict[Any, int]:
        sums = dict(self.sums)
        values, bucket = self.values, self.bucket
        for key, value in changed.items():
            where = bucket[key]
            if where is not None:
                sums[where] += value - values[key]
        return sums

    def trial(self, name: str, value: Any) -> int:
        """The score with ``name`` set to ``value`` (nothing is kept)."""
        return self._combine(self._sums_with(self._changed(name, value)))

    def commit(self, name: str, value: Any) -> None:
        changed = self._changed(name, value)
        self.sums = self._sums_with(changed)
        self.values.update(changed)
        self.params = {**self.params, name: value}

    def score(self) -> int:
        return self._combine(self.sums)

    def _combine(self, sums: Mapping[Any, int]) -> int:
        if self.refuse_by is None:
            misses = [sums[("t", i)] for i in self.missing]
            return sums["bad"] + MISS * (min(misses) if misses else MISS)
        if self.tested is None:
            return sums["bad"] + MISS * MISS
        if not self.isolated:
            return sums["higher"] + MISS * sums["missing"]
        return (MISS * (sums["higher"] + sums["missing"] + sums["lower"])
                + (not sums["fires"]))


class _GoalScorer:
    """The scores of a repair towards a score of one's own (``goal_score``): each trial
    scored whole, with the same interface as ``_Scorer``."""

    def __init__(self, goal_score: Callable[[Mapping[str, Any]], int],
                 params: Mapping[str, Any]) -> None:
        self.goal_score, self.params = goal_score, dict(params)

    def trial(self, name: str, value: Any) -> int:
        return self.goal_score({**self.params, name: value})

    def commit(self, name: str, value: Any) -> None:
        self.params = {**self.params, name: value}

    def score(self) -> int:
        return self.goal_score(self.params)


@dataclass
class Analysis:
    """What the harness derives once from a System (see the module docstring). It reads
    the compiled semantics (``semantics_of``) and never decides an outcome itself."""

    system: System
    semantics: Semantics = field(init=False)
    events: dict[str, Event] = field(init=False)
    transitions: dict[str, list[Guarded]] = field(init=False)
    rejections: dict[str, list[Guarded]] = field(init=False)
    int_bounds: dict[tuple[str, str], list[Linear]] = field(init=False)
    counters: list[Counter] = field(init=False)
    str_variables: tuple[str, ...] = field(init=False)
    policies: dict[str, Policy] = field(init=False)

    def __post_init__(self) -> None:
        system = self.system
        self.semantics = semantics = semantics_of(system)
        self.policies = {p.name: p for p in system.policies}
        self.events = {e.name: e for e in system.events}
        self.transitions = {
            e: [_guarded(semantics, t, t.transition.guard) for t in table.transitions]
            for e, table in semantics.events.items()}
        self.rejections = {
            e: [_guarded(semantics, r, r.rejection.guard) for r in table.refusals]
            for e, table in semantics.events.items()}
        self.str_variables = tuple(v.qualified for v in system.variables if v.type.kind == "str")
        self.int_bounds = {}
        for event in system.events:
            for param in event.params:
                if param.type.kind == "int":
                    self.int_bounds[(event.name, param.name)] = self._param_bounds(event, param)
        self.counters = self._find_counters()

    def _guards_of(self, event: str) -> list[Node]:
        elements = [g.element for g in (*self.transitions[event], *self.rejections[event])]
        return [e.guard.tree for e in elements if e.guard is not None]

    def _param_bounds(self, event: Event, param: Param) -> list[Linear]:
        found: dict[str, Linear] = {}
        for tree in self._guards_of(event.name):
            for node in _comparisons(tree):
                if _param_refs(node) != {param.name}:
                    continue
                linear = Linear("param", param.name, _diff(node, self.policies), unparse(node))
                found.setdefault(unparse(node), linear)
        return list(found.values())

    def _find_counters(self) -> list[Counter]:
        counters: dict[tuple[str, str], Counter] = {}
        elements: list[Transition | Rejection] = [
            *self.system.transitions, *(r for r in self.system.rejections if r.effects)]
        for element in elements:
            for assignment in element.effects:
                variable = f"{element.machine}.{assignment.variable}"
                step = _increment(element, variable)
                if step is None:
                    continue
                bounds = self._bounds_of(element.event, variable)
                if bounds:
                    counter = self._counter(element, variable, step, bounds)
                    key = (variable, element.event)
                    counters[key] = _merged(counters[key], counter) if key in counters \
                        else counter
        return list(counters.values())

    def _bounds_of(self, event: str, variable: str) -> dict[str, Linear]:
        """The comparisons of ``variable`` (with no parameter) in the guards of ``event``."""
        bounds: dict[str, Linear] = {}
        for tree in self._guards_of(event):
            for node in _comparisons(tree):
                if _param_refs(node) or variable not in _var_refs(node):
                    continue
                bounds.setdefault(unparse(node), Linear(
                    "var", variable, _diff(node, self.policies), unparse(node)))
        return bounds

    def _counter(self, element: Transition | Rejection, variable: str, step: int,
                 bounds: dict[str, Linear]) -> Counter:
        if isinstance(element, Transition):
            return Counter(variable, element.machine, element.event, step, (element.id,),
                           frozenset(element.sources), tuple(bounds.values()))
        sources = element.sources or tuple(
            s.name for s in self.system.machine(element.machine).states)
        return Counter(variable, element.machine, element.event, step, (), frozenset(sources),
                       tuple(bounds.values()), (element.id,))

    def counting_params(self, model: Executable, counter: Counter, params: Mapping[str, Any],
                        candidates: Mapping[str, Sequence[Any]]) -> dict[str, Any] | None:
        """``params`` repaired so that one step of ``counter`` happens now: one of its
        transitions fires, or else one of its refusals decides. None when neither can."""
        target = frozenset(counter.transitions)
        if target:
            repaired = self.repair(model, counter.event, params, candidates, target=target)
            if self.score(model, counter.event, repaired, target) == 0:
                return repaired
        for refusal in counter.refusals:
            repaired = self.repair(model, counter.event, params, candidates, refuse_by=refusal)
            if self.refusal_score(model, counter.event, repaired, refusal) == 0:
                return repaired
        return None

    # -- questions about the current state -------------------------------------------------
    def may_accept(self, model: Executable, event: str) -> bool:
        """Whether some parameters could be accepted now (judged from states alone)."""
        return self.semantics.may_accept(model.current, event)

    def score(self, model: Executable, event: str, params: Mapping[str, Any],
              target: frozenset[str] | None = None) -> int:
        """How far ``params`` are from being accepted (by one of ``target``): 0 when they
        are. Each false conjunct of the closest transition's guard weighs ``MISS``, each
        refusal that would apply weighs 1, so the repair first makes a transition fire,
        then clears the refusals."""
        snapshot = model.current
        states = snapshot.states
        bad = sum(1 for r in self.rejections[event]
                  if r.compiled.in_source(states) and r.holds(params, snapshot))
        misses = [t.missing(params, snapshot) for t in self.transitions[event]
                  if t.compiled.in_source(states)
                  and (target is None or t.element.id in target)]
        return bad + MISS * (min(misses) if misses else MISS)

    def applicable_rejections(self, model: Executable, event: str) -> list[Rejection]:
        """The event's refusals that apply in the current states, in priority order."""
        return [r.rejection for r in self.semantics.applicable_refusals(model.current, event)]

    def refusal_score(self, model: Executable, event: str, params: Mapping[str, Any],
                      rejection: str, *, isolated: bool = False) -> int:
        """How far ``params`` are from being refused by ``rejection`` (0: they are): the
        false conjuncts of its guard, and each refusal of higher priority that would
        decide first.

        ``isolated`` asks for more (the condition under test alone decides, MC/DC): every
        other refusal of the event false too, and, where the spec allows it, a transition
        that would fire but for this refusal. Then a score below ``MISS`` means this refusal
        alone holds, and 0 that a transition would fire without it."""
        snapshot = model.current
        higher = lower = 0
        missing: int | None = None
        for r in self.rejections[event]:
            if not r.compiled.in_source(snapshot.states):
                continue
            if r.element.id == rejection:
                missing = r.missing(params, snapshot)
                if not isolated:
                    return higher + MISS * missing
            elif missing is None:
                higher += r.holds(params, snapshot)
            else:
                lower += r.holds(params, snapshot)
        if missing is None:
            return higher + MISS * MISS
        return (MISS * (higher + missing + lower)
                + (not self._would_fire(params, snapshot, event)))

    def _would_fire(self, params: Mapping[str, Any], snapshot: Snapshot, event: str) -> bool:
        return any(t.holds(params, snapshot) for t in self.transitions[event]
                   if t.compiled.in_source(snapshot.states))

    def repair(self, model: Executable, event: str, params: Mapping[str, Any],
               candidates: Mapping[str, Sequence[Any]],
               target: frozenset[str] | None = None, *,
               refuse_by: str | None = None, isolated: bool = False,
               goal_score: Callable[[Mapping[str, Any]], int] | None = None) -> dict[str, Any]:
        """Change parameters one at a time, keeping each change that brings the goal
        closer, until it is reached (or nothing helps any more). The goal: acceptance
        (by one of the ``target`` transitions, if given), refusal by the rejection
        ``refuse_by``, or (``goal_score``) a score of one's own brought to 0 (a condition
        of a guard made true or false: conditions.py)."""

        scorer: _Scorer | _GoalScorer = (
            _Scorer(self, model.current, event, params, target=target, refuse_by=refuse_by,
                    isolated=isolated)
            if goal_score is None else _GoalScorer(goal_score, params))
        best = scorer.score()
        for _ in range(3):
            if best == 0:
                break
            improved = False
            for name, options in candidates.items():
                for value in options:
                    if value == scorer.params[name]:
                        continue
                    trial_score = scorer.trial(name, value)
                    if trial_score < best:
                        scorer.commit(name, value)
                        best, improved = trial_score, True
                        if best == 0:
                            return scorer.params
            if not improved:
                break
        return scorer.params

    def int_boundaries(self, model: Executable, event: str, param: Param) -> list[int]:
        """Boundary values of an int parameter now, inside its declared range."""
        lo, hi = param.type.min, param.type.max
        values: list[int] = []
        for linear in self.int_bounds.get((event, param.name), ()):
            root = linear.root(model.values, model.states)
            if root is not None:
                values.extend((root - 1, root, root + 1))
        values.extend(v for v in (lo, hi) if v is not None)
        if lo is not None:
            values.append(lo + 1)
        return [v for v in dict.fromkeys(values)
                if (lo is None or v >= lo) and (hi is None or v <= hi)]


@cache
def analyse(system: System) -> Analysis:
    """The analysis of a system (cached: systems are immutable)."""
    return Analysis(system)


# -- strings from policies --------------------------------------------------------------------


def _allowed(policy: Policy) -> Callable[[str], bool]:
    tests = [char_class_test(c) for c in policy.alphabet]
    return lambda c: any(t(c) for t in tests)


@dataclass(frozen=True)
class PolicyShapes:
    """The character sets a policy implies."""

    policy: Policy
    filler: str  # allowed characters
    required: tuple[str, ...]  # for each required class, its allowed characters
    forbidden: str  # characters outside the alphabet

    @classmethod
    def of(cls, policy: Policy) -> PolicyShapes:
        allowed = _allowed(policy)
        filler = "".join(c for c in _UNIVERSE if allowed(c))
        required = tuple("".join(c for c in filler if char_class_test(r)(c))
                         for r in policy.require)
        forbidden = "".join(c for c in _UNIVERSE if not allowed(c))
        return cls(policy, filler, required, forbidden)

    def example(self, length: int, offset: int = 0) -> str:
        """A deterministic conforming string of ``length``: required classes in turn."""
        groups = [g for g in self.required if g] or [self.filler]
        if length <= 0 or not groups[0]:
            return ""
        return "".join(groups[i % len(groups)][(offset + i // len(groups))
                                               % len(groups[i % len(groups)])]
                       for i in range(length))


    def violations(self) -> list[str]:
        """One deterministic value per way of breaking the policy: one character too
        short, one too long, each required class missing, each forbidden class present."""
        policy = self.policy
        lo, hi = policy.min_length, policy.max_length
        out = []
        if lo > 1:
            out.append(self.example(lo - 1))
        out.append(self.example(hi + 1))
        length = max(lo, 1)
        for name in policy.require:
            breaks = char_class_test(name)
            keep = [g for g in ("".join(c for c in group if not breaks(c))
                                for group in self.required) if g]
            keep = keep or ["".join(c for c in self.filler if not breaks(c))]
            if keep[0]:
                out.append("".join(keep[i % len(keep)][i // len(keep) % len(keep[i % len(keep)])]
                                   for i in range(length)))
        for name in CHAR_CLASSES:
            bad = [c for c in CLASS_CHARS[name] if c in self.forbidden]
            if bad:
                base = self.example(length)
                out.append(bad[0] + base[1:] if base else bad[0])
        return list(dict.fromkeys(out))


@cache
def shapes(policy: Policy) -> PolicyShapes:
    return PolicyShapes.of(policy)


_SEEDS = st.integers(0, 2**32 - 1)
#: the one Hypothesis draw of a machine step (see ``SeededChoices``)
STEP_SEEDS = _SEEDS
#: how often a seeded choice is the plain one (see ``SeededChoices._plain``)
PLAIN = 0.3


# -- choices: where the drawn values of a step come from ------------------------------------


class Choices:
    """Where the drawn values of one step come from: each ``index``, ``boolean`` and
    ``integer`` is one choice; the plainest value is index 0, False, the bound or number
    nearest 0.

    Two kinds: ``DrawnChoices`` makes every choice a Hypothesis draw (strategies used
    outside the machine); ``SeededChoices`` makes them from one drawn seed (the machine's
    hot path: a Hypothesis draw costs about 25 us, and a step has a dozen choices, more
    than the whole of a typical backend call). Hypothesis then shrinks a trace by its
    steps, and ``minimise.simplify`` makes the values of a minimal trace plain one at a
    time."""

    def index(self, size: int) -> int:
        raise NotImplementedError

    def uniform(self, size: int) -> int:
        """An index with no preference for 0 (which action a step takes, its mode)."""
        raise NotImplementedError

    def boolean(self) -> bool:
        raise NotImplementedError

    def integer(self, lo: int | None, hi: int | None) -> int:
        raise NotImplementedError


class DrawnChoices(Choices):
    """Every choice one Hypothesis draw."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def index(self, size: int) -> int:
        return int(self.draw(index_strategy(size)))

    def uniform(self, size: int) -> int:
        return self.index(size)

    def boolean(self) -> bool:
        return bool(self.draw(_BOOLS))

    def integer(self, lo: int | None, hi: int | None) -> int:
        return int(self.draw(_anywhere(lo, hi)))


def _nearest_zero(lo: int | None, hi: int | None) -> int:
    if lo is not None and lo > 0:
        return lo
    if hi is not None and hi < 0:
        return hi
    return 0


class SeededChoices(Choices):
    """Every choice from a pseudo-random generator seeded with one drawn integer and a
    ``salt`` (the how-manieth seeded draw of the example: Hypothesis draws the same small
    seeds often, 0 in a third of the draws, and equal seeds must still give different
    steps). Integers: one in four at or next to a bound, otherwise uniform in a bounded
    range, or of a uniformly drawn bit length in an unbounded one."""

    def __init__(self, seed: int, salt: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + salt)

    def _plain(self) -> bool:
        """Whether this choice is the plain one (``PLAIN`` probability), as Hypothesis
        draws each choice's simplest value often (the first enum value, False, a bound),
        which reaches deep states."""
        return self.rng.random() < PLAIN

    def index(self, size: int) -> int:
        return 0 if self._plain() else self.rng.randrange(size)

    def uniform(self, size: int) -> int:
        return self.rng.randrange(size)

    def boolean(self) -> bool:
        return not self._plain() and self.rng.random() < 0.5

    def integer(self, lo: int | None, hi: int | None) -> int:
        if self._plain():
            return _nearest_zero(lo, hi)
        rng = self.rng
        if lo is not None and hi is not None:
            if rng.randrange(4) == 0:
                edges = [v for v in (lo, hi, lo + 1, hi - 1) if lo <= v <= hi]
                return edges[rng.randrange(len(edges))]
            return rng.randint(lo, hi)
        magnitude = 2 ** rng.randrange(64)
        base = lo if lo is not None else hi if hi is not None else 0
        if lo is not None:
            return base + rng.randint(0, magnitude)
        if hi is not None:
            return base - rng.randint(0, magnitude)
        return rng.randint(-magnitude, magnitude)


def as_choices(source: Draw | Choices) -> Choices:
    """``source`` as choices: a Hypothesis ``draw`` function becomes ``DrawnChoices``."""
    return source if isinstance(source, Choices) else DrawnChoices(source)


# -- strings from policies --------------------------------------------------------------------

#: makes one string of a category from a step's choices
StringMaker = Callable[[Choices], str]


def shaped_string(required: Sequence[str], filler: str, length: int, seed: int) -> str:
    """A string of ``length`` holding one character of each required set (as far as the
    length allows), the rest from ``filler``, in an order and with characters chosen by
    ``seed``. Seed 0 gives the plainest string (the first characters, in order)."""
    picks = [r for r in required if r][:length] if length > 0 else []
    rest = max(0, length - len(picks))
    pool = filler or "".join(picks) or "a"
    if seed == 0:
        text = "".join(r[0] for r in picks) + pool[0] * rest
        return text
    rng = random.Random(seed)
    chars = [rng.choice(r) for r in picks] + [rng.choice(pool) for _ in range(rest)]
    turn = rng.randrange(len(chars)) if chars else 0
    return "".join(chars[turn:] + chars[:turn])


def _shaped(required: Sequence[str], filler: str, lo: int, hi: int) -> StringMaker:
    """Strings of a chosen length in [lo, hi] (one of the two ends, or anywhere between)
    holding one character of each required set, the rest from filler; the characters come
    from one more choice, a seed (0: the plainest string of its shape)."""
    required = tuple(required)
    ends = sorted({lo, hi})

    def make(choices: Choices) -> str:
        if lo == hi:
            length = lo
        elif choices.index(2) == 0:
            length = ends[choices.index(len(ends))]
        else:
            length = choices.integer(lo, hi)
        return shaped_string(required, filler, length, choices.integer(0, 2**32 - 1))

    return make


def _text(choices: Choices) -> str:
    """Any text of up to 12 characters (a parameter without a policy)."""
    return "".join(_UNIVERSE[choices.index(len(_UNIVERSE))]
                   for _ in range(choices.integer(0, 12)))


def _empty(choices: Choices) -> str:
    return ""


def as_strategy(make: StringMaker) -> st.SearchStrategy[str]:
    """A string maker as a Hypothesis strategy (every choice a draw)."""

    @st.composite
    def strings(draw: Draw) -> str:
        return make(DrawnChoices(draw))

    return strings()


def policy_makers(policy: Policy) -> dict[str, StringMaker]:
    """Categories of strings for one policy: conforming, and each way of breaking it."""
    shape = shapes(policy)
    lo, hi = policy.min_length, policy.max_length
    required = list(shape.required)
    out: dict[str, StringMaker] = {"conforming": _shaped(required, shape.filler, lo, hi)}
    if lo > 0:
        out["too_short"] = _shaped(required, shape.filler, lo - 1, lo - 1)
    out["too_long"] = _shaped(required, shape.filler, hi + 1, hi + 1)
    missing = []
    for index, name in enumerate(policy.require):
        breaks = char_class_test(name)
        filler = "".join(c for c in shape.filler if not breaks(c))
        if not filler:
            continue
        others = ["".join(c for c in chars if not breaks(c))
                  for i, chars in enumerate(required) if i != index]
        missing.append(_shaped(others, filler, max(lo, 1), hi))
    if missing:
        out["missing"] = _one_of(tuple(missing))
    if shape.forbidden:
        out["forbidden"] = _shaped([shape.forbidden, *required], shape.filler, max(lo, 1), hi)
    out["empty"] = _empty
    return out


def _one_of(makers: tuple[StringMaker, ...]) -> StringMaker:
    return lambda choices: makers[choices.index(len(makers))](choices)


def policy_categories(policy: Policy) -> dict[str, st.SearchStrategy[str]]:
    """``policy_makers`` as Hypothesis strategies."""
    return {name: as_strategy(make) for name, make in policy_makers(policy).items()}


# -- memory of a run (one example) ------------------------------------------------------------


@dataclass
class Memory:
    """What one run has seen: every value the string variables of the model have held."""

    seen: dict[str, list[str]] = field(default_factory=dict)
    #: seeded parameter draws so far (their salt: see ``SeededChoices``)
    draws: int = 0

    def note(self, model: Executable, variables: Iterable[str]) -> None:
        for name in variables:
            value = model.values.get(name)
            if isinstance(value, str) and value:
                history = self.seen.setdefault(name, [])
                if value not in history:
                    history.append(value)

    def known(self, model: Executable, variables: Iterable[str]) -> dict[str, list[str]]:
        """Categories of known strings: current, swapcase, near, history."""
        current = [v for name in variables
                   if isinstance(v := model.values.get(name), str) and v]
        current = list(dict.fromkeys(current))
        swapped = [v.swapcase() for v in current if v.swapcase() != v]
        near = []
        for v in current:
            last = v[-1]
            near.append(v[:-1] + ("0" if last != "0" else "1"))
            near.append(v[:-1])
            near.append(v + v[-1])
        history = [v for name in variables for v in self.seen.get(name, ()) if v not in current]
        history = list(dict.fromkeys(history))
        return {"current": current, "swapcase": swapped, "near": near, "history": history}


# -- strategies for parameters ----------------------------------------------------------------

Draw = Callable[[st.SearchStrategy[Any]], Any]


@cache
def index_strategy(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, size - 1)


_BOOLS = st.booleans()


@cache
def _anywhere(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    return st.integers(min_value=lo, max_value=hi)


@cache
def _static_string_options(param: Param,
                           policies: tuple[Policy, ...]) -> dict[str, StringMaker]:
    options: dict[str, StringMaker] = {}
    for policy in policies:
        for category, make in policy_makers(policy).items():
            key = category if category == "empty" else f"{category}:{policy.name}"
            options.setdefault(key, make)
    if not policies:
        options["text"] = _text
        options["empty"] = _empty
    return options


def _weight(name: str) -> int:
    return STRING_WEIGHTS.get(name.split(":")[0], 1)


def draw_string(choices: Choices, param: Param, analysis: Analysis,
                known: Mapping[str, list[str]]) -> str:
    """A string parameter: a category (weighted), then a value of that category."""
    static = _static_string_options(param, tuple(analysis.policies[p] for p in param.policies))
    names = [n for n in ("current", "swapcase", "history", "near") if known.get(n)]
    names.extend(static)
    weighted = [n for n in names for _ in range(_weight(n))]
    name = weighted[choices.index(len(weighted))]
    if name in static:
        return static[name](choices)
    values = known[name]
    return values[choices.index(len(values))]


def draw_int(choices: Choices, param: Param, boundaries: Sequence[int]) -> int:
    """Mostly boundary values (3 in 4), otherwise anywhere in the declared range."""
    if boundaries and choices.index(4) < 3:
        return boundaries[choices.index(len(boundaries))]
    return choices.integer(param.type.min, param.type.max)


def draw_value(choices: Choices, param: Param, analysis: Analysis, model: Executable,
               event: str, known: Mapping[str, list[str]]) -> Any:
    kind = param.type.kind
    if kind == "bool":
        return choices.boolean()
    if kind == "enum":
        return param.type.values[choices.index(len(param.type.values))]
    if kind == "int":
        return draw_int(choices, param, analysis.int_boundaries(model, event, param))
    return draw_string(choices, param, analysis, known)


def draw_params(source: Draw | Choices, analysis: Analysis, model: Executable, event: str,
                memory: Memory) -> dict[str, Any]:
    """Parameters of ``event``, drawn against the model's current state (``source``: a
    Hypothesis ``draw`` function, or ``Choices``)."""
    choices = as_choices(source)
    known = memory.known(model, analysis.str_variables)
    return {p.name: draw_value(choices, p, analysis, model, event, known)
            for p in analysis.events[event].params}


def params_strategy(analysis: Analysis, model: Executable, event: str,
                    memory: Memory) -> st.SearchStrategy[dict[str, Any]]:
    """The same as ``draw_params``, as a strategy (for use outside the machine)."""

    @st.composite
    def params(draw: Draw) -> dict[str, Any]:
        return draw_params(draw, analysis, model, event, memory)

    return params()


def seeded_params(analysis: Analysis, model: Executable, event: str,
                  memory: Memory) -> st.SearchStrategy[dict[str, Any]]:
    """The same as ``draw_params``, as a strategy of one draw: a seed for
    ``SeededChoices``, salted with ``memory.draws`` (the machine's hot path)."""

    def params(seed: int) -> dict[str, Any]:
        memory.draws += 1
        return draw_params(SeededChoices(seed, memory.draws), analysis, model, event, memory)

    return STEP_SEEDS.map(params)


def candidates(analysis: Analysis, model: Executable, event: str,
               memory: Memory) -> dict[str, list[Any]]:
    """Finite alternatives for each parameter, tried in order by ``Analysis.repair``."""
    known = memory.known(model, analysis.str_variables)
    out: dict[str, list[Any]] = {}
    for param in analysis.events[event].params:
        kind = param.type.kind
        if kind == "bool":
            out[param.name] = [True, False]
        elif kind == "enum":
            out[param.name] = list(param.type.values)
        elif kind == "int":
            out[param.name] = analysis.int_boundaries(model, event, param)
        else:
            examples, violations = _policy_candidates(
                tuple(analysis.policies[name] for name in param.policies))
            values = [*known["current"], *examples, *known["swapcase"], *known["history"],
                      *known["near"], *violations]
            out[param.name] = list(dict.fromkeys(values))
    return out


@cache
def _policy_candidates(policies: tuple[Policy, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fixed string candidates of a parameter: conforming examples of each policy (its
    shortest, longest and middle lengths), then one value per way of breaking each."""
    examples: list[str] = []
    for policy in policies:
        shape = shapes(policy)
        examples.extend(shape.example(n, k) for k, n in enumerate(
            (policy.min_length, policy.max_length,
             (policy.min_length + policy.max_length) // 2)))
    violations = [v for policy in policies for v in shapes(policy).violations()]
    return tuple(examples), tuple(violations)


__all__ = [
    "CLASS_CHARS",
    "STEP_SEEDS",
    "Analysis",
    "Choices",
    "Counter",
    "DrawnChoices",
    "Guarded",
    "Linear",
    "Memory",
    "SeededChoices",
    "analyse",
    "candidates",
    "draw_params",
    "params_strategy",
    "policy_categories",
    "policy_makers",
    "seeded_params",
]
