"""Static checks of a loaded System (``authspec validate``).

Graph checks (guards ignored, so they over-approximate what can happen; a refusal with a
target is an edge like a transition, as it moves its machine when it decides):
- ``unreachable-state``: no path of transitions (or refusals with a target) from the initial
  state;
- ``dead-end-state``: a state with no transition out that is not marked final.

Guard checks, decided with the Z3 SMT solver over the declared domains (int bounds, enum
values, the states of every machine); ``matches(x, policy)`` is an uninterpreted predicate:
- ``nondeterminism``: two transitions of one event from one state whose guards can both hold;
- ``effect-out-of-range``: an effect that can push an int variable outside its bounds (of a
  transition when its guard holds, of a refusal when it decides: its guard holds and the
  refusals before it do not apply);
- ``division-by-zero``: a ``//`` or ``%`` whose divisor can be 0 where it is evaluated (a
  guard in its source states once the refusals before it do not apply, an effect when its
  guard holds, an invariant anywhere; ``and``/``or``/``implies`` evaluate their right side
  only when needed, so ``d != 0 and x // d > 1`` is safe; a refusal's effects when it
  decides);
- ``dead-transition`` (warning): a guard that can never hold;
- ``shadowed-refusal`` (warning): a refusal that never decides, because refusals before it in
  priority order always apply first (or its own guard can never hold);
- ``unreachable-transition`` (warning): a transition the event's refusals always pre-empt.

Traceability checks against the rules catalogue:
- ``unknown-citation``: a cited rule or question ID the catalogue does not have (step
  properties included);
- ``uncited-rule``: a rule no transition, refusal, invariant, policy or step property cites;
- ``unanswered-question``: an open question with no recorded assumption;
- ``unknown-question``: an assumption for a question the catalogue does not have.

And: ``invariant-broken-initially``, ``unused-reason`` and ``unused-event`` (warnings).

Each finding carries the place in the spec and what to do about it. Z3 answers *sat*,
*unsat* or *unknown*; every query has a time limit (``SOLVER_TIMEOUT_MS``) and all the queries
of one ``check_system`` a budget (``SOLVER_BUDGET_S``). A query Z3 does not decide in time is
reported as a ``solver-undecided`` warning at the element it is about, never silently passed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import z3

from . import expr as ex
from .errors import SpecError
from .ir import (
    Assignment,
    Assumption,
    Expr,
    Invariant,
    Machine,
    Policy,
    Rejection,
    Span,
    System,
    Transition,
    Type,
    citing_name,
)
from .secrets import DRAWN
from .semantics import atomic_conditions

SOLVER_TIMEOUT_MS = 2000
SOLVER_BUDGET_S = 20.0


@dataclass(frozen=True)
class _Limits:
    timeout_ms: int
    deadline: float  # time.monotonic() after which no query is started


_LIMITS: ContextVar[_Limits | None] = ContextVar("solver_limits", default=None)


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning"
    code: str
    message: str
    span: Span
    hint: str = ""

    def as_error(self) -> SpecError:
        return SpecError(self.span, f"{self.message} [{self.code}]", self.hint, self.severity)

    def format(self) -> str:
        return self.as_error().format()


def check_system(system: System, *, timeout_ms: int = SOLVER_TIMEOUT_MS,
                 budget_s: float = SOLVER_BUDGET_S) -> list[Finding]:
    """Run every static check; findings sorted by place.

    Each Z3 query gets ``timeout_ms``, all of them together ``budget_s`` seconds; what is not
    decided in time is a ``solver-undecided`` warning."""
    token = _LIMITS.set(_Limits(timeout_ms, time.monotonic() + budget_s))
    try:
        findings: list[Finding] = []
        for check in (_citations, _graph, _guards, _priorities, _divisions, _refusal_effects,
                      _initial_invariants, _unused, _step_property_citations):
            findings.extend(check(system))
    finally:
        _LIMITS.reset(token)
    return sorted(findings, key=lambda f: (f.span, f.code))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# -- traceability -----------------------------------------------------------------------------

def _citations(system: System) -> Iterator[Finding]:
    catalogue = system.catalogue
    rule_ids = {r.id for r in catalogue.rules}
    question_ids = {q.id for q in catalogue.questions}
    cited = system.citations()
    elements: tuple[Transition | Rejection | Invariant | Policy | Assumption, ...] = (
        *system.transitions, *system.rejections, *system.all_invariants, *system.policies,
        *system.assumptions)
    for element in elements:
        for cited_id in element.rules:
            if cited_id not in rule_ids | question_ids:
                kind = "rule" if cited_id.startswith("R") else "question"
                yield Finding("error", "unknown-citation",
                              f"{_describe(element)} cites {cited_id}, which the catalogue "
                              f"({catalogue.file}) has no {kind} for", element.span,
                              "cite an existing ID, or add the rule to the catalogue")
    for rule in catalogue.rules:
        if rule.id not in cited:
            yield Finding("error", "uncited-rule",
                          f"rule {rule.id} is enforced by no transition, refusal, invariant "
                          f"or policy: {rule.reading}", rule.span,
                          f"model {rule.id} in a machine file and cite it in "
                          f"'rules: [{rule.id}]'")
    answered = {a.question for a in system.assumptions}
    for question in catalogue.questions:
        if question.id not in answered:
            yield Finding("error", "unanswered-question",
                          f"open question {question.id} has no recorded assumption: "
                          f"{question.text}", question.span,
                          f"add 'assumptions: {question.id}: choice: ...' to {system.file}")
    for assumption in system.assumptions:
        if assumption.question not in question_ids:
            yield Finding("error", "unknown-question",
                          f"assumption for {assumption.question}, which the catalogue does "
                          "not list", assumption.span, "use a question ID of the catalogue")


def _step_property_citations(system: System) -> Iterator[Finding]:
    """``unknown-citation`` for the rules and questions step properties cite."""
    catalogue = system.catalogue
    known = {r.id for r in catalogue.rules} | {q.id for q in catalogue.questions}
    for prop in system.step_properties:
        for cited_id in prop.rules:
            if cited_id not in known:
                kind = "rule" if cited_id.startswith("R") else "question"
                yield Finding("error", "unknown-citation",
                              f"step property {prop.id} cites {cited_id}, which the catalogue "
                              f"({catalogue.file}) has no {kind} for", prop.span,
                              "cite an existing ID, or add the rule to the catalogue")


def _describe(element: Transition | Rejection | Invariant | Policy | Assumption) -> str:
    return f"{type(element).__name__.lower()} {citing_name(element)}"


# -- graph ------------------------------------------------------------------------------------

def _graph(system: System) -> Iterator[Finding]:
    for machine in system.machines:
        reached = reachable_states(machine)
        for state in machine.states:
            if state.name not in reached:
                yield Finding("error", "unreachable-state",
                              f"state {machine.name}.{state.name} cannot be reached from "
                              f"{machine.initial.name}", state.span,
                              "add a transition into it, or remove it")
            outgoing = [t for t in machine.transitions if state.name in t.sources]
            leaving = outgoing + [r for r in machine.rejections if _moves_from(r, state.name)]
            if not leaving and not state.final:
                yield Finding("error", "dead-end-state",
                              f"state {machine.name}.{state.name} has no transition out and "
                              "is not final", state.span,
                              "add a transition out of it, or mark it 'final: true'")
            if leaving and state.final:
                yield Finding("error", "final-state-with-exit",
                              f"final state {machine.name}.{state.name} has transitions out",
                              state.span, "a final state is the end; remove 'final: true' "
                              "or its transitions (and the targets of its refusals)")


def _moves_from(rejection: Rejection, state: str) -> bool:
    """Whether ``rejection``, deciding in ``state``, moves its machine to another state."""
    return (rejection.target is not None and rejection.target != state
            and (not rejection.sources or state in rejection.sources))


def reachable_states(machine: Machine) -> set[str]:
    """States reachable from the initial one, ignoring guards (transitions and the refusals
    with a target are the edges)."""
    reached = {machine.initial.name}
    frontier = [machine.initial.name]
    edges: list[Transition | Rejection] = [*machine.transitions, *machine.rejections]
    while frontier:
        state = frontier.pop()
        for transition in edges:
            if state in transition.sources or (
                    isinstance(transition, Rejection) and not transition.sources):
                target = transition.target_from(state)
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
    return reached


# -- guards, with Z3 ----------------------------------------------------------------------------

class _Encoder:
    """Translate checked expression trees into Z3 terms over the system's domains."""

    def __init__(self, system: System, event: str | None, tag: str = ""):
        self.system = system
        #: appended to every symbol's name: two encoders of one event with different tags
        #: speak of two independent states and parameter sets (the policy predicates stay
        #: shared: ``matches`` means the same in both)
        self.tag = tag
        self.params = {p.name: p.type for p in system.event(event).params} if event else {}
        self.vars = {v.qualified: v.type for v in system.variables}
        self.symbols: dict[str, Any] = {}
        self.domain: list[Any] = []
        self.predicates: dict[str, Any] = {}

    def _symbol(self, key: str, typ: Type) -> Any:
        if key in self.symbols:
            return self.symbols[key]
        name = key + self.tag
        if typ.kind == "bool":
            sym = z3.Bool(name)
        elif typ.kind == "int":
            sym = z3.Int(name)
            if typ.min is not None:
                self.domain.append(sym >= typ.min)
            if typ.max is not None:
                self.domain.append(sym <= typ.max)
        else:
            sym = z3.String(name)
            if typ.kind == "enum":
                self.domain.append(z3.Or([sym == z3.StringVal(v) for v in typ.values]))
        self.symbols[key] = sym
        return sym

    def state_of(self, machine: str) -> Any:
        states = self.system.machine(machine).states
        return self._symbol(f"{machine}.state", ex.state_type(machine, tuple(
            s.name for s in states)))

    def term(self, node: ex.Node) -> Any:
        if isinstance(node, ex.Lit):
            if isinstance(node.value, bool):
                return z3.BoolVal(node.value)
            if isinstance(node.value, int):
                return z3.IntVal(node.value)
            return z3.StringVal(node.value)
        if isinstance(node, ex.ParamRef):
            return self._symbol(f"param.{node.name}", self.params[node.name])
        if isinstance(node, ex.VarRef):
            return self._symbol(node.qualified, self.vars[node.qualified])
        if isinstance(node, ex.StateRef):
            return self.state_of(node.machine)
        if isinstance(node, ex.Unary):
            inner = self.term(node.operand)
            return z3.Not(inner) if node.op == "not" else -inner
        if isinstance(node, ex.Binary):
            return self._binary(node)
        if isinstance(node, ex.Call):
            return self._call(node)
        if isinstance(node, ex.Select):
            return self._select(node)
        raise TypeError(f"cannot encode {node!r}")

    def _select(self, node: ex.Select) -> Any:
        """A reference chosen by a parameter (entities): the case of the parameter's value."""
        param = self._symbol(f"param.{node.param}", self.params[node.param])
        *rest, (_, last) = node.cases
        term = self.term(last)
        for value, case in reversed(rest):
            term = z3.If(param == z3.StringVal(value), self.term(case), term)
        return term

    def _binary(self, node: ex.Binary) -> Any:
        op = node.op
        if op in ("in", "not in"):
            left = self.term(node.left)
            assert isinstance(node.right, ex.ListLit)
            member = z3.Or([left == self.term(i) for i in node.right.items])
            return member if op == "in" else z3.Not(member)
        left, right = self.term(node.left), self.term(node.right)
        table = {
            "and": lambda: z3.And(left, right), "or": lambda: z3.Or(left, right),
            "implies": lambda: z3.Implies(left, right), "==": lambda: left == right,
            "!=": lambda: left != right, "<": lambda: left < right, "<=": lambda: left <= right,
            ">": lambda: left > right, ">=": lambda: left >= right, "+": lambda: left + right,
            "-": lambda: left - right, "*": lambda: left * right, "//": lambda: left / right,
            "%": lambda: left % right,
        }
        return table[op]()

    def _call(self, node: ex.Call) -> Any:
        if node.func == "matches":
            policy = node.args[1]
            assert isinstance(policy, ex.PolicyRef)
            predicate = self.predicates.get(policy.name)
            if predicate is None:
                predicate = z3.Function(f"matches_{policy.name}", z3.StringSort(),
                                        z3.BoolSort())
                self.predicates[policy.name] = predicate
            return predicate(self.term(node.args[0]))
        args = [self.term(a) for a in node.args]
        if node.func == "len":
            return z3.Length(args[0])
        a, b = args
        return z3.If(a <= b, a, b) if node.func == "min" else z3.If(a >= b, a, b)

    def guard(self, expression: Expr | None) -> Any:
        return z3.BoolVal(True) if expression is None else self.term(expression.tree)


def _solve(constraints: list[Any]) -> tuple[str, Any]:
    """"sat" and a model, "unsat", or "unknown" (not decided in time, or budget spent)."""
    limits = _LIMITS.get() or _Limits(SOLVER_TIMEOUT_MS, time.monotonic() + SOLVER_BUDGET_S)
    remaining_ms = int((limits.deadline - time.monotonic()) * 1000)
    if remaining_ms <= 0:
        return "unknown", None
    solver = z3.Solver()
    solver.set("timeout", max(1, min(limits.timeout_ms, remaining_ms)))
    solver.add(*constraints)
    result = solver.check()
    if result == z3.sat:
        return "sat", solver.model()
    return ("unsat", None) if result == z3.unsat else ("unknown", None)


def _undecided(what: str, span: Span) -> Finding:
    return Finding("warning", "solver-undecided", f"Z3 could not decide {what} in time",
                   span, "simplify the guards (products of variables, and // or % by a "
                   "variable, are hard to decide), or give validate more time with "
                   "--solver-timeout and --solver-budget")


def _witness(model: Any, encoder: _Encoder) -> str:
    """The values of a model, secret parameters and variables masked."""
    secrets = {f"param.{p.name}" for e in encoder.system.events for p in e.params if p.secret}
    secrets |= {v.qualified for v in encoder.system.variables if v.secret}
    shown = []
    for key, sym in sorted(encoder.symbols.items()):
        value = DRAWN if key in secrets else model.eval(sym, model_completion=True)
        shown.append(f"{key.removeprefix('param.')}={value}")
    return ", ".join(shown)


def _applies(encoder: _Encoder, system: System, rejection: Rejection) -> Any:
    machine = system.machine(rejection.machine)
    where = (z3.Or([_in_state(encoder, machine, s) for s in rejection.sources])
             if rejection.sources else z3.BoolVal(True))
    return z3.And(where, encoder.guard(rejection.guard))


def _priorities(system: System) -> Iterator[Finding]:
    """Refusals that never decide, and transitions that refusals always pre-empt."""
    for event in system.events:
        refusals = [r for r in system.rejections if r.event == event.name]
        for index, rejection in enumerate(refusals):
            encoder = _Encoder(system, event.name)
            earlier = [z3.Not(_applies(encoder, system, r)) for r in refusals[:index]]
            verdict, _ = _solve([_applies(encoder, system, rejection), *earlier,
                                 *encoder.domain])
            if verdict == "unknown":
                yield _undecided(f"whether refusal {rejection.id} ever decides",
                                 rejection.span)
            if verdict == "unsat":
                yield Finding("warning", "shadowed-refusal",
                              f"refusal {rejection.id} ({rejection.reason}) never decides: "
                              "refusals before it always apply first, or its guard never "
                              "holds", rejection.span,
                              "remove it, or narrow the refusals listed before it")
        for transition in (t for t in system.transitions if t.event == event.name):
            encoder = _Encoder(system, event.name)
            machine = system.machine(transition.machine)
            in_source = z3.Or([_in_state(encoder, machine, s) for s in transition.sources])
            none_applies = [z3.Not(_applies(encoder, system, r)) for r in refusals]
            verdict, _ = _solve([in_source, encoder.guard(transition.guard), *none_applies,
                                 *encoder.domain])
            if verdict == "unknown":
                yield _undecided(f"whether transition {transition.id} is ever taken",
                                 transition.span)
            if verdict == "unsat":
                yield Finding("warning", "unreachable-transition",
                              f"transition {transition.id} is never taken: a refusal of "
                              f"{event.name} always applies when its guard holds",
                              transition.span, "narrow the refusals or fix the guard")


def _guards(system: System) -> Iterator[Finding]:
    for machine in system.machines:
        for state in machine.states:
            by_event: dict[str, list[Transition]] = {}
            for transition in machine.transitions:
                if state.name in transition.sources:
                    by_event.setdefault(transition.event, []).append(transition)
            for event, transitions in by_event.items():
                yield from _overlaps(system, machine, state.name, event, transitions)
        for transition in machine.transitions:
            yield from _transition_checks(system, machine, transition)


def _in_state(encoder: _Encoder, machine: Machine, state: str) -> Any:
    return encoder.state_of(machine.name) == z3.StringVal(state)


def _overlaps(system: System, machine: Machine, state: str, event: str,
              transitions: list[Transition]) -> Iterator[Finding]:
    for first, second in combinations(transitions, 2):
        encoder = _Encoder(system, event)
        both = [encoder.guard(first.guard), encoder.guard(second.guard),
                _in_state(encoder, machine, state)]
        verdict, model = _solve([*both, *encoder.domain])
        if verdict == "sat":
            yield Finding("error", "nondeterminism",
                          f"{first.id} and {second.id} both leave {machine.name}.{state} on "
                          f"{event}, and their guards can both hold, e.g. with "
                          f"{_witness(model, encoder)}", second.span,
                          "make the guards exclusive (add 'and not (...)' to one of them)")
        elif verdict == "unknown":
            yield _undecided(f"whether {first.id} and {second.id} exclude each other",
                             second.span)


def _transition_checks(system: System, machine: Machine,
                       transition: Transition) -> Iterator[Finding]:
    encoder = _Encoder(system, transition.event)
    guard = encoder.guard(transition.guard)
    in_source = z3.Or([_in_state(encoder, machine, s) for s in transition.sources])
    verdict, _ = _solve([guard, in_source, *encoder.domain])
    if verdict == "unknown":
        yield _undecided(f"whether the guard of {transition.id} can hold", transition.span)
    if verdict == "unsat":
        yield Finding("warning", "dead-transition",
                      f"the guard of {transition.id} can never hold: "
                      f"{transition.guard.source if transition.guard else ''}",
                      transition.span, "fix the guard or remove the transition")
        return
    yield from _effects_in_range(encoder, machine, transition.id, transition.effects,
                                 [guard, in_source])


def _effects_in_range(encoder: _Encoder, machine: Machine, element: str,
                      effects: tuple[Assignment, ...], context: list[Any]) -> Iterator[Finding]:
    """``effect-out-of-range`` for the effects of ``element`` where ``context`` holds."""
    for assignment in effects:
        variable = machine.variable(assignment.variable)
        assert variable is not None
        typ = variable.type
        if typ.kind != "int":
            continue
        value = encoder.term(assignment.value.tree)
        outside = z3.Or(value < typ.min, value > typ.max)
        verdict, model = _solve([*context, outside, *encoder.domain])
        if verdict == "unknown":
            yield _undecided(f"whether {element} keeps {variable.qualified} within "
                             f"[{typ.min}, {typ.max}]", assignment.span)
        if verdict == "sat":
            yield Finding("error", "effect-out-of-range",
                          f"{element} can set {variable.qualified} outside "
                          f"[{typ.min}, {typ.max}], e.g. with {_witness(model, encoder)}",
                          assignment.span,
                          "strengthen the guard so the new value stays within bounds, "
                          "or widen the variable's min/max")


def _refusal_effects(system: System) -> Iterator[Finding]:
    """The effects of each refusal, where it decides: in its states, its guard holding and
    no refusal before it applying (range and division by zero)."""
    for event in system.events:
        refusals = [r for r in system.rejections if r.event == event.name]
        for index, rejection in enumerate(refusals):
            if not rejection.effects:
                continue
            encoder = _Encoder(system, event.name)
            machine = system.machine(rejection.machine)
            context = [_applies(encoder, system, rejection),
                       *[z3.Not(_applies(encoder, system, r)) for r in refusals[:index]]]
            yield from _effects_in_range(encoder, machine, rejection.id, rejection.effects,
                                         context)
            for effect in rejection.effects:
                yield from _zero_divisors(encoder, effect.value, context,
                                          f"effect {effect.variable} := {effect.value.source} "
                                          f"of refusal {rejection.id}")


# -- division by zero --------------------------------------------------------------------------

def _divisions(system: System) -> Iterator[Finding]:
    """Every ``//`` and ``%`` whose divisor can be 0 where and when it is evaluated."""
    for event in system.events:
        refusals = [r for r in system.rejections if r.event == event.name]
        for index, rejection in enumerate(refusals):
            encoder = _Encoder(system, event.name)
            machine = system.machine(rejection.machine)
            where = [z3.Or([_in_state(encoder, machine, s) for s in rejection.sources])
                     ] if rejection.sources else []
            earlier = [z3.Not(_applies(encoder, system, r)) for r in refusals[:index]]
            yield from _zero_divisors(encoder, rejection.guard, [*where, *earlier],
                                      f"the guard of refusal {rejection.id}")
        for transition in (t for t in system.transitions if t.event == event.name):
            encoder = _Encoder(system, event.name)
            machine = system.machine(transition.machine)
            context = [z3.Or([_in_state(encoder, machine, s) for s in transition.sources]),
                       *[z3.Not(_applies(encoder, system, r)) for r in refusals]]
            yield from _zero_divisors(encoder, transition.guard, context,
                                      f"the guard of transition {transition.id}")
            context.append(encoder.guard(transition.guard))
            for effect in transition.effects:
                yield from _zero_divisors(encoder, effect.value, context,
                                          f"effect {effect.variable} := {effect.value.source} "
                                          f"of {transition.id}")
    for invariant in system.all_invariants:
        yield from _zero_divisors(_Encoder(system, None), invariant.expr, [],
                                  f"invariant {invariant.id}")


def _zero_divisors(encoder: _Encoder, expression: Expr | None, context: list[Any],
                   what: str) -> Iterator[Finding]:
    if expression is None:
        return
    for node, conditions in _evaluated_divisions(encoder, expression.tree, ()):
        divisor = ex.unparse(node.right)
        verdict, model = _solve([*context, *conditions, encoder.term(node.right) == 0,
                                 *encoder.domain])
        span = expression.span_at(min(n.offset for n in ex.walk(node.right)))
        if verdict == "unknown":
            yield _undecided(f"whether the divisor {divisor} in {what} can be 0", span)
        elif verdict == "sat":
            yield Finding("error", "division-by-zero",
                          f"{what} divides by {divisor}, which can be 0 there, e.g. with "
                          f"{_witness(model, encoder)}", span,
                          f"make sure it is not: write '{divisor} != 0 and ...' before the "
                          f"division, or refuse the event when {divisor} == 0")


def _evaluated_divisions(encoder: _Encoder, node: ex.Node, conditions: tuple[Any, ...]
                         ) -> Iterator[tuple[ex.Binary, tuple[Any, ...]]]:
    """Each division in ``node`` with the conditions under which it is evaluated (the right
    side of ``and``/``implies`` only when the left holds, of ``or`` when it does not)."""
    if isinstance(node, ex.Binary) and node.op in ("and", "or", "implies"):
        yield from _evaluated_divisions(encoder, node.left, conditions)
        left = encoder.term(node.left)
        needed = z3.Not(left) if node.op == "or" else left
        yield from _evaluated_divisions(encoder, node.right, (*conditions, needed))
        return
    if isinstance(node, ex.Binary) and node.op in ("//", "%"):
        yield node, conditions
    for child in ex.children(node):
        yield from _evaluated_divisions(encoder, child, conditions)


# -- invariants and leftovers ----------------------------------------------------------------

def _initial_invariants(system: System) -> Iterator[Finding]:
    values = {v.qualified: v.initial for v in system.variables}
    states = {m.name: m.initial.name for m in system.machines}
    policies = {p.name: p for p in system.policies}
    for invariant in system.all_invariants:
        try:
            holds = ex.compile_expr(invariant.expr.tree, policies)({}, values, states)
        except ArithmeticError as error:
            yield Finding("error", "invariant-broken-initially",
                          f"invariant {invariant.id} cannot be evaluated in the initial state "
                          f"({error}): {invariant.expr.source}", invariant.span,
                          "guard the division, e.g. 'd == 0 or x // d ...'")
            continue
        if not holds:
            yield Finding("error", "invariant-broken-initially",
                          f"invariant {invariant.id} does not hold in the initial state: "
                          f"{invariant.expr.source}", invariant.span,
                          "fix the invariant or the initial values")


def _unused(system: System) -> Iterator[Finding]:
    used_reasons = {r.reason for r in system.rejections} | {system.otherwise}
    for reason in system.reasons:
        if reason.code not in used_reasons:
            yield Finding("warning", "unused-reason", f"reason {reason.code} is never given",
                          reason.span, "use it in a refusal or remove it")
    handled = {t.event for t in system.transitions} | {r.event for r in system.rejections}
    for event in system.events:
        if event.name not in handled:
            yield Finding("warning", "unused-event",
                          f"event {event.name} moves no machine and is refused by none",
                          event.span, "add transitions for it or remove it")
        elif event.name not in {t.event for t in system.transitions}:
            yield Finding("warning", "never-accepted-event",
                          f"event {event.name} is always refused (no transition takes it)",
                          event.span, "intended when the policy forbids it outright")


# -- condition coverage: can a condition of a guard take a value where it is evaluated? --------


def condition_possible(system: System, element: str, index: int, value: bool, *,
                       deciding: bool = False) -> str:
    """Whether the model can evaluate the guard of ``element`` (a transition or refusal id)
    with its atomic condition ``index`` (``semantics.atomic_conditions``) equal to
    ``value`` and, with ``deciding``, that condition alone deciding the guard (MC/DC):
    ``"sat"``, ``"unsat"`` (impossible: proven) or ``"unknown"``.

    Where the model evaluates a guard (semantics.py): a refusal in its states once the
    refusals before it do not apply; a transition in a source state once no refusal of the
    event applies and the transitions of its machine listed before it from that state do
    not fire. Over-approximated as every state is: any value in the declared domains, each
    machine in a state reachable in its graph, the spec's invariants holding."""
    found = _element(system, element)
    assert found is not None and found.guard is not None, f"{element}: a guarded element"
    encoder = _Encoder(system, found.event)
    nodes, shape = atomic_conditions(found.guard.tree)
    leaves = [encoder.term(n) for n in nodes]
    constraints = [*_evaluated_state(encoder, system, found), leaves[index] == value]
    if deciding:
        constraints.append(_decides(shape, leaves, index))
    verdict, _ = _solve([*constraints, *encoder.domain])
    return verdict


def pair_possible(system: System, element: str, index: int) -> str:
    """Whether the model can evaluate the guard of ``element`` twice, in two states (with
    two sets of parameters) where its atomic conditions have the same values but for
    condition ``index``, true in one and false in the other, and that condition decides
    the guard: the unique-cause MC/DC pair the coverage looks for. ``"sat"``, ``"unsat"``
    (no such pair: proven, under the over-approximation of ``condition_possible``, each
    evaluation on its own) or ``"unknown"``. Stronger than ``condition_possible`` with
    ``deciding``: coupled conditions (``brand == 'brand_a'`` and ``brand == 'brand_b'`` of
    a two-valued enum) can each decide at a point, yet never change alone."""
    found = _element(system, element)
    assert found is not None and found.guard is not None, f"{element}: a guarded element"
    nodes, shape = atomic_conditions(found.guard.tree)
    constraints: list[Any] = []
    sides = []
    for tag, value in (("@1", True), ("@2", False)):
        encoder = _Encoder(system, found.event, tag)
        leaves = [encoder.term(n) for n in nodes]
        constraints += [*_evaluated_state(encoder, system, found), leaves[index] == value,
                        *encoder.domain]
        sides.append(leaves)
    first, second = sides
    constraints += [a == b for i, (a, b) in enumerate(zip(first, second, strict=True))
                    if i != index]
    constraints.append(_decides(shape, first, index))
    verdict, _ = _solve(constraints)
    return verdict


def _decides(shape: tuple[Any, ...], leaves: list[Any], index: int) -> Any:
    """Z3: flipping condition ``index`` of ``leaves`` flips the guard of ``shape``."""
    as_true = _shape_term(shape, [*leaves[:index], z3.BoolVal(True), *leaves[index + 1:]])
    as_false = _shape_term(shape, [*leaves[:index], z3.BoolVal(False), *leaves[index + 1:]])
    return as_true != as_false


def _evaluated_state(encoder: _Encoder, system: System,
                     element: Transition | Rejection) -> list[Any]:
    """Where the model evaluates ``element``'s guard, in a state each machine can reach in
    its graph and where the spec's invariants hold (see ``condition_possible``)."""
    constraints = _evaluated_where(encoder, system, element)
    for machine in system.machines:
        constraints.append(z3.Or([_in_state(encoder, machine, s)
                                  for s in sorted(reachable_states(machine))]))
    constraints.extend(encoder.term(i.expr.tree) for i in system.all_invariants)
    return constraints


def _element(system: System, element: str) -> Transition | Rejection | None:
    elements: list[Transition | Rejection] = [*system.transitions, *system.rejections]
    return next((e for e in elements if e.id == element), None)


def _evaluated_where(encoder: _Encoder, system: System,
                     element: Transition | Rejection) -> list[Any]:
    refusals = [r for r in system.rejections if r.event == element.event]
    machine = system.machine(element.machine)
    if isinstance(element, Rejection):
        earlier = refusals[:refusals.index(element)]
        where = (z3.Or([_in_state(encoder, machine, s) for s in element.sources])
                 if element.sources else z3.BoolVal(True))
        return [where, *(z3.Not(_applies(encoder, system, r)) for r in earlier)]
    siblings = [t for t in machine.transitions if t.event == element.event]
    before = siblings[:siblings.index(element)]
    where = z3.Or([z3.And(_in_state(encoder, machine, s),
                          *(z3.Not(encoder.guard(t.guard)) for t in before if s in t.sources))
                   for s in element.sources])
    return [where, *(z3.Not(_applies(encoder, system, r)) for r in refusals)]


def _shape_term(shape: tuple[Any, ...], leaves: list[Any]) -> Any:
    kind = shape[0]
    if kind == "leaf":
        return leaves[shape[1]]
    if kind == "not":
        return z3.Not(_shape_term(shape[1], leaves))
    left, right = _shape_term(shape[1], leaves), _shape_term(shape[2], leaves)
    if kind == "and":
        return z3.And(left, right)
    return z3.Or(left, right) if kind == "or" else z3.Implies(left, right)
