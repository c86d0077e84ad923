"""The intermediate representation (IR) of a loaded spec.

Everything downstream works from these frozen dataclasses and never from YAML: the
executable model (runtime.py), the static checks (checks.py), the harness, the diagrams,
the report and the spec diff. They are plain, hashable data so that later tools (exhaustive
exploration, offline test generation, linearizability checking) can key on them.

Vocabulary:
- A *system* composes *machines* (parallel regions) that share *variables* and react to
  the same *events*.
- A *transition* moves one machine on one event when its *guard* holds, and applies
  *effects* (simultaneous assignments to that machine's own variables).
- A *rejection* refuses an event with a declared *reason* code; a refused event changes
  nothing, unless the deciding rejection has *effects* or a *target* (a wrong password is
  refused and counted; the third one also locks the account).
- A *step property* is a condition on one whole step: the snapshot before, the event and its
  parameters, the outcome and the snapshot after ("no payment is accepted while logged out").
- Every transition, rejection, invariant and step property *cites* rule IDs (R1...) or
  question IDs (Q1...).
- An *entity* kind (``customer``) has a finite, declared set of *instances* (``alice``,
  ``bob``); a machine of the kind exists once per instance. The loader grounds such a spec
  (model/entities.py): machine ``session`` becomes ``session[alice]`` and ``session[bob]``,
  and everything of an instance machine is named after it (``session[alice].login``,
  ``session[alice].logged_in``, ``session[alice].failures``). A spec without entities has
  none of this and is exactly what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .secrets import masked

if TYPE_CHECKING:
    from .expr import Node


@dataclass(frozen=True, order=True)
class Span:
    """Where something was written: 1-based line and column in a spec file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Span("<unknown>", 0, 0)


@dataclass(frozen=True)
class Text:
    """A label in English and Chinese (either may be empty)."""

    en: str = ""
    zh: str = ""

    def get(self, lang: str) -> str:
        return (self.zh or self.en) if lang == "zh" else (self.en or self.zh)


@dataclass(frozen=True)
class Type:
    """A value type: ``bool``, ``int`` (bounded), ``str``, or an enumeration."""

    kind: str  # "bool" | "int" | "str" | "enum"
    name: str  # "bool", "int", "str", or the enum's name
    values: tuple[str, ...] = ()  # enum members
    min: int | None = None
    max: int | None = None

    def contains(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "int":
            return (
                isinstance(value, int)
                and not isinstance(value, bool)
                and (self.min is None or value >= self.min)
                and (self.max is None or value <= self.max)
            )
        if self.kind == "str":
            return isinstance(value, str)
        return value in self.values

    def describe(self) -> str:
        if self.kind == "int" and (self.min is not None or self.max is not None):
            return f"int in [{self.min}, {self.max}]"
        if self.kind == "enum":
            return f"{self.name} (one of {', '.join(self.values)})"
        return self.name


BOOL = Type("bool", "bool")
INT = Type("int", "int")
STR = Type("str", "str")


@dataclass(frozen=True)
class Expr:
    """A parsed, name-checked expression of the spec's expression language.

    ``span`` is where the expression starts; ``offsets`` maps the offset of each node of
    ``tree`` to where it was written, for errors inside the expression (``span_at``)."""

    source: str
    tree: Node
    type: Type
    span: Span
    offsets: tuple[tuple[int, Span], ...] = field(default=(), compare=False, repr=False)

    def span_at(self, offset: int) -> Span:
        """Where character ``offset`` of the expression was written (else its start)."""
        return next((span for at, span in self.offsets if at == offset), self.span)


@dataclass(frozen=True)
class Variable:
    machine: str
    name: str
    type: Type
    initial: Any
    label: Text = Text()
    unit: str = ""
    secret: bool = False
    span: Span = NOWHERE
    #: ``machine.state`` names where the spec leaves the value meaningless: an observation
    #: of it is not compared while the model is in one of them (``unobserved_in:``)
    unobserved_in: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.machine}.{self.name}"

    def observed_in(self, states: Mapping[str, str]) -> bool:
        """Whether an observation of the variable is compared in ``states`` (machine ->
        state): in every configuration but those of ``unobserved_in``."""
        return not self.unobserved_in or not any(
            f"{machine}.{state}" in self.unobserved_in for machine, state in states.items())


@dataclass(frozen=True)
class Param:
    name: str
    type: Type
    label: Text = Text()
    unit: str = ""
    secret: bool = False
    policies: tuple[str, ...] = ()  # policies whose conforming and violating values are tried
    span: Span = NOWHERE
    entity: str = ""  # the entity kind whose instance the parameter names ("" for a value)
    implicit: bool = False  # the event's own instance, added by the loader (not written)
    # the event whose accepted steps issue the tokens this int parameter selects among, counted
    # back from the latest issued for the acting instance (0 the latest; "" for a value)
    issued_by: str = ""


@dataclass(frozen=True)
class Event:
    name: str
    params: tuple[Param, ...]
    label: Text = Text()
    extension: str = ""  # the question ID under which an event beyond the source is modelled
    span: Span = NOWHERE

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def acts_on(self) -> tuple[Param, ...]:
        """The implicit parameters naming the instances the event acts on (one per kind)."""
        return tuple(p for p in self.params if p.implicit)

    def redacted(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters with secret values masked (``secrets.masked``), for display."""
        secret = {p.name for p in self.params if p.secret}
        return {k: masked(v) if k in secret else v for k, v in params.items()}


@dataclass(frozen=True)
class Reason:
    code: str
    label: Text = Text()
    span: Span = NOWHERE


CHAR_CLASSES = ("digit", "lower", "upper", "letter", "space", "punct", "other")


@dataclass(frozen=True)
class Policy:
    """A named rule for secrets, e.g. 6-30 characters of letters and digits, both present."""

    name: str
    min_length: int
    max_length: int
    alphabet: tuple[str, ...]  # character classes allowed
    require: tuple[str, ...]  # character classes that must each appear at least once
    case_sensitive: bool = True
    label: Text = Text()
    rules: tuple[str, ...] = ()
    span: Span = NOWHERE


@dataclass(frozen=True)
class State:
    name: str
    machine: str
    label: Text = Text()
    initial: bool = False
    final: bool = False
    span: Span = NOWHERE


@dataclass(frozen=True)
class Assignment:
    variable: str  # a variable of the transition's own machine
    value: Expr
    span: Span = NOWHERE


@dataclass(frozen=True)
class Transition:
    """Move ``machine`` from one of ``sources`` to ``target`` on ``event`` when ``guard``.

    ``target`` is None for a transition that stays where it is (``to: ~``): effects run,
    no state is left or entered.
    """

    id: str  # unique in the system: "machine.local_id"
    machine: str
    event: str
    sources: tuple[str, ...]
    target: str | None
    guard: Expr | None
    effects: tuple[Assignment, ...]
    rules: tuple[str, ...]
    label: Text = Text()
    span: Span = NOWHERE

    def target_from(self, source: str) -> str:
        return source if self.target is None else self.target


@dataclass(frozen=True)
class Rejection:
    """Refuse ``event`` with ``reason`` while ``machine`` is in one of ``sources`` and ``guard``.

    Empty ``sources`` means in any state of the machine. When this rejection decides, its
    ``effects`` (assignments to its machine's variables, read before the event) are
    committed and its machine moves to ``target`` (None: it stays); no transition fires.
    """

    id: str
    machine: str
    event: str
    sources: tuple[str, ...]
    guard: Expr | None
    reason: str
    rules: tuple[str, ...]
    label: Text = Text()
    span: Span = NOWHERE
    effects: tuple[Assignment, ...] = ()
    target: str | None = None

    @property
    def changes_state(self) -> bool:
        """Whether deciding may change the snapshot (it has effects or a target)."""
        return bool(self.effects) or self.target is not None

    def target_from(self, source: str) -> str:
        return source if self.target is None else self.target


@dataclass(frozen=True)
class Invariant:
    id: str
    machine: str | None  # None for a system-wide invariant
    expr: Expr
    rules: tuple[str, ...]
    label: Text = Text()
    span: Span = NOWHERE


@dataclass(frozen=True)
class StepProperty:
    """A condition every step of ``events`` (every step, when empty) must meet.

    ``holds`` reads the state before the step (``before.machine.name``), the state after it
    (``after.machine.name``), the event's parameters by name, ``event``, ``accepted`` and
    ``reason`` (see stepprops.py); its variable and state references name their machine
    ``before.machine`` or ``after.machine``. ``machine`` is the machine file that declares
    it (None for the system file or a properties file)."""

    id: str
    machine: str | None
    events: tuple[str, ...]
    holds: Expr
    rules: tuple[str, ...]
    label: Text = Text()
    span: Span = NOWHERE

    def applies_to(self, event: str) -> bool:
        return not self.events or event in self.events


@dataclass(frozen=True)
class Machine:
    name: str
    label: Text
    states: tuple[State, ...]
    variables: tuple[Variable, ...]
    transitions: tuple[Transition, ...]
    rejections: tuple[Rejection, ...]
    invariants: tuple[Invariant, ...]
    file: str
    span: Span = NOWHERE
    entity: str = ""  # the entity kind of a machine that exists once per instance
    instance: str = ""  # which instance this copy is ("" for a machine of the whole system)
    template: str = ""  # the machine's name as written (``session`` for ``session[alice]``)

    @property
    def written_name(self) -> str:
        """The name the spec gives the machine (without its instance)."""
        return self.template or self.name

    @property
    def initial(self) -> State:
        return next(s for s in self.states if s.initial)

    def state(self, name: str) -> State | None:
        return next((s for s in self.states if s.name == name), None)

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)


def instance_name(template: str, instance: str) -> str:
    """The name of one instance's copy of a machine (or invariant): ``session[alice]``."""
    return f"{template}[{instance}]"


@dataclass(frozen=True)
class Entity:
    """An entity kind with its declared instances and the machines that exist per instance."""

    kind: str
    instances: tuple[str, ...]
    machines: tuple[str, ...]  # machine names as written, in the system's order
    label: Text = Text()
    span: Span = NOWHERE

    @property
    def type(self) -> Type:
        """The type of a parameter that names an instance of this kind."""
        return Type("enum", self.kind, self.instances)


@dataclass(frozen=True)
class Rule:
    """One numbered rule of the source policy."""

    id: str
    clause: str  # the source's own words
    reading: str  # the English reading
    section: str = ""
    span: Span = NOWHERE


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    span: Span = NOWHERE


@dataclass(frozen=True)
class Assumption:
    """The interpretation a spec records for an open question, for a review meeting to settle."""

    question: str
    choice: Text
    rules: tuple[str, ...]
    span: Span = NOWHERE


def citing_name(element: Transition | Rejection | Invariant | Policy | Assumption
                | StepProperty) -> str:
    """What an element that cites rules is called: its ID, a policy's name, an answer's question."""
    if isinstance(element, Policy):
        return element.name
    if isinstance(element, Assumption):
        return element.question
    return element.id


def citation_order(citation: str) -> tuple[int, int, str]:
    """Sort key for cited IDs: R1 < R2 < R10 < Q1 < Q2 < anything else."""
    head, digits = citation[:1], citation[1:]
    return ({"R": 0, "Q": 1}.get(head, 2), int(digits) if digits.isdigit() else 0, citation)


@dataclass(frozen=True)
class Catalogue:
    """The source's rules and open questions, as cited by the specs."""

    source: str
    rules: tuple[Rule, ...]
    questions: tuple[Question, ...]
    file: str = ""

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


_HASH = "<hash>"  # the key of System's cached hash in its _index


@dataclass(frozen=True)
class System:
    """A composed spec: machines in priority order, and everything they share."""

    name: str
    label: Text
    machines: tuple[Machine, ...]
    events: tuple[Event, ...]
    reasons: tuple[Reason, ...]
    policies: tuple[Policy, ...]
    enums: tuple[Type, ...]
    invariants: tuple[Invariant, ...]
    assumptions: tuple[Assumption, ...]
    catalogue: Catalogue
    otherwise: str
    file: str
    span: Span = NOWHERE
    entities: tuple[Entity, ...] = ()  # entity kinds (none for a spec of one customer)
    _index: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    step_properties: tuple[StepProperty, ...] = ()  # of every file, in the order read

    def __hash__(self) -> int:
        """Computed once (the fields' hash, as dataclasses define it): a system is large
        and immutable, and the caches of its compiled forms key on it."""
        cached = self._index.get(_HASH)
        if cached is None:
            cached = self._index[_HASH] = hash(
                tuple(getattr(self, f.name) for f in fields(self) if f.compare))
        return int(cached)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the cached hash (string hashes differ between processes)."""
        state = dict(self.__dict__)
        state["_index"] = {k: v for k, v in self._index.items() if k != _HASH}
        return state

    # -- look-ups ----------------------------------------------------------------------------
    def machine(self, name: str) -> Machine:
        return self._lookup("machine", name, self.machines, lambda m: m.name)

    def entity(self, kind: str) -> Entity:
        return self._lookup("entity", kind, self.entities, lambda e: e.kind)

    def event(self, name: str) -> Event:
        return self._lookup("event", name, self.events, lambda e: e.name)

    def policy(self, name: str) -> Policy:
        return self._lookup("policy", name, self.policies, lambda p: p.name)

    def reason(self, code: str) -> Reason:
        return self._lookup("reason", code, self.reasons, lambda r: r.code)

    def _lookup(self, kind: str, name: str, items: tuple, key: Any) -> Any:
        table = self._index.get(kind)
        if table is None:
            table = self._index[kind] = {key(item): item for item in items}
        try:
            return table[name]
        except KeyError:
            from .errors import UnknownName  # errors.py imports this module

            raise UnknownName(kind, name, table) from None

    # -- derived views -----------------------------------------------------------------------
    @property
    def transitions(self) -> tuple[Transition, ...]:
        return tuple(t for m in self.machines for t in m.transitions)

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        return tuple(r for m in self.machines for r in m.rejections)

    @property
    def all_invariants(self) -> tuple[Invariant, ...]:
        return tuple(i for m in self.machines for i in m.invariants) + self.invariants

    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(v for m in self.machines for v in m.variables)

    @property
    def states_all(self) -> tuple[State, ...]:
        return tuple(s for m in self.machines for s in m.states)

    def rules_of(self, subject: str) -> tuple[str, ...]:
        """The rule and question IDs at stake for ``subject``, in citation order: a variable
        ``machine.name`` (the rules of the transitions and rejections that assign or read
        it, and of the invariants that read it) or a machine ``name`` (those of its
        transitions and rejections that move it to another state, and of every element
        that reads its state). Unknown subjects cite nothing."""
        from .expr import StateRef, VarRef, walk

        def reads(tree: Any) -> bool:
            return any((isinstance(n, VarRef) and n.qualified == subject)
                       or (isinstance(n, StateRef) and n.machine == subject)
                       for n in walk(tree))

        cited: set[str] = set()
        moving: tuple[Transition | Rejection, ...] = (*self.transitions, *self.rejections)
        for element in moving:
            exprs = [a.value for a in element.effects]
            if element.guard is not None:
                exprs.append(element.guard)
            if _writes(element, subject) or any(reads(e.tree) for e in exprs):
                cited.update(element.rules)
        for invariant in self.all_invariants:
            if reads(invariant.expr.tree):
                cited.update(invariant.rules)
        return tuple(sorted(cited, key=citation_order))

    def citations(self) -> dict[str, list[Transition | Rejection | Invariant | Policy
                                          | StepProperty]]:
        """Rule or question ID -> every element that cites it, in spec order."""
        cited: dict[str, list[Transition | Rejection | Invariant | Policy | StepProperty]] = {}
        elements: tuple[Transition | Rejection | Invariant | Policy | StepProperty, ...] = (
            *self.transitions, *self.rejections, *self.all_invariants, *self.policies,
            *self.step_properties)
        for element in elements:
            for rule_id in element.rules:
                cited.setdefault(rule_id, []).append(element)
        return cited


def _writes(element: Transition | Rejection, subject: str) -> bool:
    """Whether ``element`` assigns the variable ``subject`` or moves the machine
    ``subject`` to another state."""
    if any(f"{element.machine}.{a.variable}" == subject for a in element.effects):
        return True
    return (element.machine == subject and element.target is not None
            and any(source != element.target for source in element.sources or ("",)))
