"""The expression language of guards, effects and invariants: parse, check, compile.

A small, safe language; spec text is never handed to Python's ``eval``.

    expr     := implies
    implies  := or ('implies' or)*             (right-associative)
    or       := and ('or' and)*
    and      := not ('and' not)*
    not      := 'not' not | compare
    compare  := sum (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not in') sum)?
    sum      := product (('+'|'-') product)*
    product  := unary (('*'|'//'|'%') unary)*
    unary    := '-' unary | atom
    atom     := INT | STRING | 'true' | 'false' | name ('.' name)? | instance | call | list
              | '(' expr ')'
    instance := name '[' (name | STRING) ']' '.' name    (machine[param].variable)
    call     := ('matches' | 'len' | 'min' | 'max') '(' args ')'
    list     := '[' (expr (',' expr)*)? ']'

Names: an event parameter (``amount``), a variable of the machine the expression belongs
to (``spent``), its state (``state``), or another machine's variable or state
(``otp_card.uses``, ``session.state``). Enum members and state names are written as
strings (``session.state == 'logged_in'``) and checked against the declared values.
``matches(x, policy)`` tests a string against a named policy of the system.

In a system with entities (model/entities.py), ``machine.name`` means the machine of the
same instance as the event's (or the invariant's); another instance's state is read only
through an explicit reference, ``session[payee].state`` (``payee`` a parameter naming an
instance of the machine's kind) or ``session['bob'].state`` (a declared instance).

``parse`` gives a tree of frozen nodes; ``check`` resolves names and types against a
``Scope`` and returns the resolved tree; ``compile_expr`` turns a resolved tree into a
Python closure ``f(params, variables, states)``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ExprError
from .ir import BOOL, INT, STR, Policy, Type

# -- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    offset: int


@dataclass(frozen=True)
class Lit(Node):
    value: Any


@dataclass(frozen=True)
class Name(Node):
    """An unresolved name as written: ``("spent",)`` or ``("otp_card", "uses")``."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class ParamRef(Node):
    name: str


@dataclass(frozen=True)
class VarRef(Node):
    machine: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.machine}.{self.name}"


@dataclass(frozen=True)
class StateRef(Node):
    machine: str


@dataclass(frozen=True)
class Indexed(Node):
    """``machine[index].name`` as written (unresolved): another instance's variable or state."""

    machine: str
    index: Node  # a Name (a parameter) or a Lit (an instance's name)
    name: str


@dataclass(frozen=True)
class InstanceRef(Node):
    """A resolved ``machine[index].name``: ``index`` is a ParamRef naming an instance of the
    machine's entity kind, or a Lit instance name; ``name`` is a variable or ``state``.
    The loader's grounding (model/entities.py) replaces it before anything compiles it."""

    machine: str
    index: Node
    name: str


@dataclass(frozen=True)
class Select(Node):
    """A grounded reference chosen by a parameter's value: ``cases[value]`` (each case a
    VarRef or StateRef of one instance's machine). ``machine`` and ``name`` are as written,
    for display (``session[payee].state``)."""

    param: str
    machine: str
    name: str
    cases: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class PolicyRef(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


# -- tokens ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<int>\d[\d_]*)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|//|[<>+\-*%()\[\],.])
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "implies", "true", "false"}
FUNCTIONS = {"matches": 2, "len": 1, "min": 2, "max": 2}
MAX_LENGTH = 2000
#: How deep parentheses, lists, calls, ``not`` and ``-`` may nest while parsing.
MAX_NESTING = 32
#: How deep the tree of an expression may be (``a + b + c`` is two levels): every pass over
#: a tree (types, Z3, evaluation, diagrams) recurses, and must stay far from Python's limit.
MAX_DEPTH = 64
MAX_INT_DIGITS = 18


@dataclass(frozen=True)
class Token:
    kind: str  # int, string, name, keyword, op, end
    text: str
    offset: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", 0,
                        "split it into several transitions or invariants")
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            char = source[pos]
            hint = "use 'and', 'or', 'not' for logic" if char in "&|!" else (
                "strings are quoted with ' or \"; operators are == != < <= > >= + - * // %")
            raise ExprError(f"unexpected character {char!r}", pos, hint)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "name" and text in KEYWORDS:
            kind = "keyword"
        if kind != "space":
            tokens.append(Token(kind, text, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# -- parser ------------------------------------------------------------------------------------

_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, source: str):
        self.tokens = tokenize(source)
        self.pos = 0
        self.nesting = 0

    def nested(self, parse: Callable[[], Node]) -> Node:
        """``parse()`` one level deeper; an ``ExprError`` past ``MAX_NESTING`` levels."""
        if self.nesting >= MAX_NESTING:
            raise ExprError(f"the expression nests more than {MAX_NESTING} levels deep",
                            self.tok.offset, "remove redundant parentheses, 'not' or '-', or "
                            "split the condition over several transitions or refusals")
        self.nesting += 1
        try:
            return parse()
        finally:
            self.nesting -= 1

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at(self, text: str) -> bool:
        return self.tok.kind in ("op", "keyword") and self.tok.text == text

    def expect(self, text: str, hint: str = "") -> Token:
        if not self.at(text):
            raise ExprError(f"expected {text!r}, found {self._describe(self.tok)}",
                            self.tok.offset, hint)
        return self.take()

    @staticmethod
    def _describe(token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    def parse(self) -> Node:
        node = self.implies()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected {self._describe(self.tok)} after a complete expression",
                            self.tok.offset, "join conditions with 'and' or 'or'")
        return node

    def implies(self) -> Node:
        return self.nested(self._implies)

    def _implies(self) -> Node:
        left = self.or_()
        if self.at("implies"):
            token = self.take()
            return Binary(token.offset, "implies", left, self.implies())
        return left

    def or_(self) -> Node:
        left = self.and_()
        while self.at("or"):
            token = self.take()
            left = Binary(token.offset, "or", left, self.and_())
        return left

    def and_(self) -> Node:
        left = self.not_()
        while self.at("and"):
            token = self.take()
            left = Binary(token.offset, "and", left, self.not_())
        return left

    def not_(self) -> Node:
        if self.at("not"):
            token = self.take()
            return Unary(token.offset, "not", self.nested(self.not_))
        return self.compare()

    def compare(self) -> Node:
        left = self.sum()
        if self.tok.kind == "op" and self.tok.text in _COMPARE:
            token = self.take()
            node: Node = Binary(token.offset, token.text, left, self.sum())
        elif self.at("in"):
            token = self.take()
            node = Binary(token.offset, "in", left, self.sum())
        elif self.at("not") and self.tokens[self.pos + 1].text == "in":
            token = self.take()
            self.take()
            node = Binary(token.offset, "not in", left, self.sum())
        else:
            return left
        if (self.tok.kind == "op" and self.tok.text in _COMPARE) or self.at("in"):
            raise ExprError("comparisons do not chain", self.tok.offset,
                            "write 'a < b and b < c'")
        return node

    def sum(self) -> Node:
        left = self.product()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            token = self.take()
            left = Binary(token.offset, token.text, left, self.product())
        return left

    def product(self) -> Node:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "//", "%"):
            token = self.take()
            left = Binary(token.offset, token.text, left, self.unary())
        return left

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text == "-":
            token = self.take()
            return Unary(token.offset, "-", self.nested(self.unary))
        return self.atom()

    def atom(self) -> Node:
        token = self.tok
        if token.kind == "int":
            self.take()
            digits = token.text.replace("_", "").lstrip("0")
            if len(digits) > MAX_INT_DIGITS:
                raise ExprError(f"an integer of {len(digits)} digits; the limit is "
                                f"{MAX_INT_DIGITS}", token.offset,
                                "bounds and amounts are small numbers; check for a typo")
            return Lit(token.offset, int(digits or "0"))
        if token.kind == "string":
            self.take()
            return Lit(token.offset, _unquote(token.text))
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.take()
            return Lit(token.offset, token.text == "true")
        if token.kind == "op" and token.text == "(":
            self.take()
            node = self.implies()
            self.expect(")", "close the parenthesis")
            return node
        if token.kind == "op" and token.text == "[":
            return self.list_()
        if token.kind == "name":
            return self.name_or_call()
        raise ExprError(f"expected a value, found {self._describe(token)}", token.offset,
                        "a value is a number, a quoted string, true, false, a name, "
                        "a call or a parenthesised expression")

    def list_(self) -> Node:
        start = self.take()
        items: list[Node] = []
        if not self.at("]"):
            items.append(self.implies())
            while self.at(","):
                self.take()
                items.append(self.implies())
        self.expect("]", "close the list with ']'")
        return ListLit(start.offset, tuple(items))

    def name_or_call(self) -> Node:
        first = self.take()
        if self.at("("):
            if first.text not in FUNCTIONS:
                known = ", ".join(sorted(FUNCTIONS))
                raise ExprError(f"unknown function {first.text!r}", first.offset,
                                f"the functions are {known}")
            self.take()
            args: list[Node] = []
            if not self.at(")"):
                args.append(self.implies())
                while self.at(","):
                    self.take()
                    args.append(self.implies())
            self.expect(")", "close the call's parenthesis")
            return Call(first.offset, first.text, tuple(args))
        if self.at("["):
            return self.instance(first)
        parts = [first.text]
        while self.at("."):
            self.take()
            if self.tok.kind != "name":
                raise ExprError("expected a name after '.'", self.tok.offset,
                                "write machine.variable or machine.state")
            parts.append(self.take().text)
        if len(parts) > 2:
            raise ExprError(f"{'.'.join(parts)!r} has too many parts", first.offset,
                            "names are 'name' or 'machine.name'")
        return Name(first.offset, tuple(parts))


    def instance(self, first: Token) -> Node:
        """``machine[index].name``, after ``machine``."""
        self.take()
        token = self.tok
        if token.kind not in ("name", "string"):
            raise ExprError(f"expected a parameter or an instance's name, found "
                            f"{self._describe(token)}", token.offset,
                            "write machine[param].variable or machine['instance'].variable")
        self.take()
        index: Node = (Name(token.offset, (token.text,)) if token.kind == "name"
                       else Lit(token.offset, _unquote(token.text)))
        self.expect("]", "close the instance with ']'")
        self.expect(".", "name what is read: machine[param].variable or machine[param].state")
        if self.tok.kind != "name":
            raise ExprError("expected a name after '.'", self.tok.offset,
                            "write machine[param].variable or machine[param].state")
        return Indexed(first.offset, first.text, index, self.take().text)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse(source: str) -> Node:
    """Parse an expression; raise ``ExprError`` with the offset of the first problem."""
    tree = _Parser(source).parse()
    _check_depth(tree)
    return tree


def _check_depth(tree: Node) -> None:
    """Raise ``ExprError`` at the first node deeper than ``MAX_DEPTH`` (without recursing)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"the expression is more than {MAX_DEPTH} operations deep",
                            node.offset, "split it over several transitions or refusals; "
                            "for many alternatives write x in [a, b, c]")
        stack.extend((child, depth + 1) for child in _children(node))


# -- names and types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What names an expression may use.

    ``params``: the event's parameters (empty for invariants). ``machine``: the machine the
    expression belongs to (None for system invariants). ``variables`` and ``states`` cover
    every machine: ``variables[machine][name] -> Type``, ``states[machine] -> state names``.
    ``policies``: the declared policies by name. ``event``: the event a guard or effect
    belongs to (None for invariants).
    """

    params: Mapping[str, Type]
    machine: str | None
    variables: Mapping[str, Mapping[str, Type]]
    states: Mapping[str, tuple[str, ...]]
    policies: Mapping[str, Policy]
    event: str | None = None
    kinds: Mapping[str, str] = field(default_factory=dict)  # machine -> its entity kind
    instances: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> names


def state_type(machine: str, states: tuple[str, ...]) -> Type:
    return Type("enum", f"state of {machine}", tuple(states))


def check(node: Node, scope: Scope, expected: Type | None = None) -> tuple[Node, Type]:
    """Resolve names and check types; return the resolved tree and its type."""
    return _Checker(scope).visit(node, expected)


class _Checker:
    def __init__(self, scope: Scope):
        self.scope = scope

    def visit(self, node: Node, expected: Type | None = None) -> tuple[Node, Type]:
        method = getattr(self, f"visit_{type(node).__name__}")
        resolved, typ = method(node)
        if expected is not None and not compatible(typ, expected):
            raise ExprError(f"expected {expected.describe()}, but this is {typ.describe()}",
                            node.offset, _type_hint(expected))
        return resolved, typ

    def visit_Lit(self, node: Lit) -> tuple[Node, Type]:
        if isinstance(node.value, bool):
            return node, BOOL
        if isinstance(node.value, int):
            return node, Type("int", "int", min=node.value, max=node.value)
        return node, Type("str", "str literal", values=(node.value,))

    def visit_ListLit(self, node: ListLit) -> tuple[Node, Type]:
        raise ExprError("a list may only follow 'in' or 'not in'", node.offset,
                        "write x in [a, b]; lists are not values to compare or compute with")

    def visit_Name(self, node: Name) -> tuple[Node, Type]:
        scope = self.scope
        if len(node.parts) == 1:
            name = node.parts[0]
            if name in scope.params:
                return ParamRef(node.offset, name), scope.params[name]
            own = scope.machine
            if own is not None and name in scope.variables.get(own, {}):
                return VarRef(node.offset, own, name), scope.variables[own][name]
            if own is not None and name == "state":
                return StateRef(node.offset, own), state_type(own, scope.states[own])
            if name in scope.policies:
                raise ExprError(f"{name!r} is a policy, not a value", node.offset,
                                f"test a string against it with matches(x, {name})")
            raise ExprError(f"unknown name {name!r}", node.offset, self._known_names(name))
        machine, name = node.parts
        if machine not in scope.states:
            raise ExprError(f"unknown machine {machine!r}", node.offset,
                            f"machines: {', '.join(scope.states)}")
        if name == "state":
            return StateRef(node.offset, machine), state_type(machine, scope.states[machine])
        variables = scope.variables.get(machine, {})
        if name not in variables:
            known = ", ".join(["state", *variables]) or "state"
            raise ExprError(f"machine {machine!r} has no variable {name!r}", node.offset,
                            f"{machine} has: {known}")
        return VarRef(node.offset, machine, name), variables[name]

    def visit_Indexed(self, node: Indexed) -> tuple[Node, Type]:
        scope, machine = self.scope, node.machine
        kind = scope.kinds.get(machine)
        if kind is None:
            per = sorted(scope.kinds)
            raise ExprError(f"machine {machine!r} does not exist once per instance, so it "
                            "takes no [instance]", node.offset,
                            f"write {machine}.{node.name}" + (
                                f"; machines per instance: {', '.join(per)}" if per else
                                "; declare 'entities:' in the system file to have instances"))
        index = self._instance_index(node, kind)
        if node.name == "state":
            return InstanceRef(node.offset, machine, index, "state"), state_type(
                machine, scope.states[machine])
        variables = scope.variables.get(machine, {})
        if node.name not in variables:
            known = ", ".join(["state", *variables])
            raise ExprError(f"machine {machine!r} has no variable {node.name!r}", node.offset,
                            f"{machine} has: {known}")
        return InstanceRef(node.offset, machine, index, node.name), variables[node.name]

    def _instance_index(self, node: Indexed, kind: str) -> Node:
        scope, index = self.scope, node.index
        instances = scope.instances.get(kind, ())
        if isinstance(index, Lit):
            if index.value not in instances:
                raise ExprError(f"{index.value!r} is not an instance of {kind}", index.offset,
                                f"instances of {kind}: {', '.join(instances)}")
            return index
        assert isinstance(index, Name)
        name = index.parts[0]
        typ = scope.params.get(name)
        if typ is None or typ.kind != "enum" or typ.name != kind:
            naming = [p for p, t in scope.params.items() if t.kind == "enum" and t.name == kind]
            raise ExprError(f"{name!r} is not a parameter naming a {kind}", index.offset,
                            (f"parameters naming a {kind}: {', '.join(naming)}" if naming else
                             f"give the event a parameter of type {kind}, or name an "
                             f"instance: {node.machine}['{instances[0] if instances else kind}']"
                             f".{node.name}"))
        return ParamRef(index.offset, name)

    def _known_names(self, name: str) -> str:
        scope = self.scope
        options = []
        if scope.event:
            params = ", ".join(scope.params) or "none"
            options.append(f"parameters of event {scope.event}: {params}")
        if scope.machine:
            own = ", ".join(["state", *scope.variables.get(scope.machine, {})])
            options.append(f"names of machine {scope.machine}: {own}")
        for machine in scope.states:
            if name in scope.variables.get(machine, {}):
                options.insert(0, f"did you mean {machine}.{name}?")
        options.append("another machine's names are written machine.name")
        return "; ".join(options)

    def visit_Unary(self, node: Unary) -> tuple[Node, Type]:
        if node.op == "not":
            operand, _ = self.visit(node.operand, BOOL)
            return Unary(node.offset, "not", operand), BOOL
        operand, typ = self.visit(node.operand, INT)
        return Unary(node.offset, "-", operand), _int_range("-", typ, None)

    def visit_Binary(self, node: Binary) -> tuple[Node, Type]:
        op = node.op
        if op in ("and", "or", "implies"):
            left, _ = self.visit(node.left, BOOL)
            right, _ = self.visit(node.right, BOOL)
            return Binary(node.offset, op, left, right), BOOL
        if op in ("+", "-", "*", "//", "%"):
            left, lt = self.visit(node.left, INT)
            right, rt = self.visit(node.right, INT)
            return Binary(node.offset, op, left, right), _int_range(op, lt, rt)
        if op in ("<", "<=", ">", ">="):
            left, _ = self.visit(node.left, INT)
            right, _ = self.visit(node.right, INT)
            return Binary(node.offset, op, left, right), BOOL
        if op in ("==", "!="):
            left, lt = self.visit(node.left)
            right, rt = self.visit(node.right)
            self._comparable(rt, lt, node.right.offset)
            self._comparable(lt, rt, node.left.offset)
            return Binary(node.offset, op, left, right), BOOL
        # in / not in
        left, lt = self.visit(node.left)
        if not isinstance(node.right, ListLit):
            raise ExprError(f"'{op}' needs a list on its right", node.right.offset,
                            "write x in ['a', 'b']")
        items = []
        for item in node.right.items:
            resolved, it = self.visit(item)
            self._comparable(it, lt, item.offset)
            items.append(resolved)
        return Binary(node.offset, op, left, ListLit(node.right.offset, tuple(items))), BOOL

    @staticmethod
    def _comparable(typ: Type, other: Type, offset: int) -> None:
        """Raise unless a value of ``typ`` can be compared with one of ``other``."""
        if typ.name == "str literal" and other.kind == "enum":
            (value,) = typ.values
            if value not in other.values:
                raise ExprError(f"{value!r} is not a value of {other.name}", offset,
                                f"{other.name} is one of: {', '.join(other.values)}")
            return
        if not (compatible(typ, other) or compatible(other, typ)):
            raise ExprError(f"cannot compare {typ.describe()} with {other.describe()}", offset,
                            "compare values of the same type")

    def visit_Call(self, node: Call) -> tuple[Node, Type]:
        arity = FUNCTIONS[node.func]
        if len(node.args) != arity:
            raise ExprError(f"{node.func}() takes {arity} argument{'s' * (arity > 1)}, "
                            f"got {len(node.args)}", node.offset, _CALL_HINTS[node.func])
        if node.func == "matches":
            value, _ = self.visit(node.args[0], STR)
            policy = node.args[1]
            if not (isinstance(policy, Name) and len(policy.parts) == 1
                    and policy.parts[0] in self.scope.policies):
                known = ", ".join(self.scope.policies) or "none declared"
                raise ExprError("the second argument of matches() must name a policy",
                                policy.offset, f"policies: {known}")
            return Call(node.offset, "matches", (value, PolicyRef(policy.offset,
                                                                  policy.parts[0]))), BOOL
        if node.func == "len":
            value, _ = self.visit(node.args[0], STR)
            return Call(node.offset, "len", (value,)), Type("int", "int", min=0)
        left, lt = self.visit(node.args[0], INT)
        right, rt = self.visit(node.args[1], INT)
        return Call(node.offset, node.func, (left, right)), _int_range(node.func, lt, rt)


_CALL_HINTS = {
    "matches": "write matches(password, policy_name)",
    "len": "write len(text)",
    "min": "write min(a, b)",
    "max": "write max(a, b)",
}


def compatible(typ: Type, expected: Type) -> bool:
    """Whether a value of ``typ`` may stand where ``expected`` is wanted."""
    if expected.kind == "int":
        return typ.kind == "int"
    if expected.kind == "str":
        return typ.kind == "str"
    if expected.kind == "bool":
        return typ.kind == "bool"
    if expected.kind == "enum":
        if typ.name == "str literal":
            return typ.values[0] in expected.values
        return typ.kind == "enum" and typ.name == expected.name
    return typ.kind == expected.kind


def _type_hint(expected: Type) -> str:
    if expected.kind == "bool":
        return "a condition is a comparison, a bool name, or conditions joined by and/or/not"
    if expected.kind == "enum":
        return f"write one of {', '.join(repr(v) for v in expected.values)}"
    return f"give a value of type {expected.describe()}"


def _int_range(op: str, left: Type, right: Type | None) -> Type:
    """Bounds of an integer result where they follow simply from the operands' bounds."""
    lo, hi = left.min, left.max
    if right is None:
        return Type("int", "int", min=-hi if hi is not None else None,
                    max=-lo if lo is not None else None)
    rlo, rhi = right.min, right.max
    if lo is None or hi is None or rlo is None or rhi is None:
        return INT
    if op == "+":
        return Type("int", "int", min=lo + rlo, max=hi + rhi)
    if op == "-":
        return Type("int", "int", min=lo - rhi, max=hi - rlo)
    if op in ("min", "max"):
        pick = min if op == "min" else max
        return Type("int", "int", min=pick(lo, rlo), max=pick(hi, rhi))
    return INT


# -- evaluation --------------------------------------------------------------------------------

#: What a compiled closure reads variables and states from: mappings by name, or the pure
#: semantics' snapshot tuples by position (see ``Keys``).
Values = Mapping[str, Any] | tuple[Any, ...]
States = Mapping[str, str] | tuple[str, ...]
Evaluator = Callable[[Mapping[str, Any], Values, States], Any]

_CLASS_TESTS: dict[str, Callable[[str], bool]] = {
    "digit": lambda c: "0" <= c <= "9",
    "lower": lambda c: "a" <= c <= "z",
    "upper": lambda c: "A" <= c <= "Z",
    "letter": lambda c: "a" <= c <= "z" or "A" <= c <= "Z",
    "space": lambda c: c == " ",
    "punct": lambda c: c.isascii() and not c.isalnum() and c.isprintable() and c != " ",
    "other": lambda c: not c.isascii() or not c.isprintable(),
}


def char_class_test(name: str) -> Callable[[str], bool]:
    return _CLASS_TESTS[name]


def policy_checker(policy: Policy) -> Callable[[str], bool]:
    """A function telling whether a string satisfies ``policy``."""
    allowed = [_CLASS_TESTS[c] for c in policy.alphabet]
    required = [_CLASS_TESTS[c] for c in policy.require]
    lo, hi = policy.min_length, policy.max_length

    def satisfies(text: str) -> bool:
        return (
            lo <= len(text) <= hi
            and all(any(test(c) for test in allowed) for c in text)
            and all(any(test(c) for c in text) for test in required)
        )

    return satisfies


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "+": operator.add, "-": operator.sub,
    "*": operator.mul, "//": operator.floordiv, "%": operator.mod,
}


def _by_name(name: str) -> str:
    return name


@dataclass(frozen=True)
class Keys:
    """How compiled closures find variables and states in what they are given.

    By default by name (``variables["machine.var"]``, ``states["machine"]``); the pure
    semantics (semantics.py) passes positions instead, so closures read its snapshot
    tuples directly.
    """

    variable: Callable[[str], Any] = _by_name
    state: Callable[[str], Any] = _by_name


BY_NAME = Keys()


def compile_expr(node: Node, policies: Mapping[str, Policy], keys: Keys = BY_NAME) -> Evaluator:
    """Turn a checked tree into a closure ``f(params, variables, states)``.

    ``keys`` says how the closure looks variables and states up (see ``Keys``)."""
    if isinstance(node, Lit):
        value = node.value
        return lambda p, v, s: value
    if isinstance(node, ParamRef):
        name = node.name
        return lambda p, v, s: p[name]
    if isinstance(node, VarRef):
        key = keys.variable(node.qualified)
        return lambda p, v, s: v[key]
    if isinstance(node, StateRef):
        machine = keys.state(node.machine)
        return lambda p, v, s: s[machine]
    if isinstance(node, Unary):
        inner = compile_expr(node.operand, policies, keys)
        if node.op == "not":
            return lambda p, v, s: not inner(p, v, s)
        return lambda p, v, s: -inner(p, v, s)
    if isinstance(node, Binary):
        return _compile_binary(node, policies, keys)
    if isinstance(node, Call):
        return _compile_call(node, policies, keys)
    if isinstance(node, ListLit):
        items = [compile_expr(i, policies, keys) for i in node.items]
        return lambda p, v, s: [i(p, v, s) for i in items]
    if isinstance(node, Select):
        return _compile_select(node, policies, keys)
    raise TypeError(f"cannot compile unresolved node {node!r}; check() it first")


def _compile_binary(node: Binary, policies: Mapping[str, Policy], keys: Keys) -> Evaluator:
    left = compile_expr(node.left, policies, keys)
    right = compile_expr(node.right, policies, keys)
    op = node.op
    if op == "and":
        return lambda p, v, s: left(p, v, s) and right(p, v, s)
    if op == "or":
        return lambda p, v, s: left(p, v, s) or right(p, v, s)
    if op == "implies":
        return lambda p, v, s: (not left(p, v, s)) or right(p, v, s)
    if op in ("in", "not in"):
        assert isinstance(node.right, ListLit)
        if all(isinstance(i, Lit) for i in node.right.items):
            members = frozenset(i.value for i in node.right.items)  # type: ignore[attr-defined]
            if op == "in":
                return lambda p, v, s: left(p, v, s) in members
            return lambda p, v, s: left(p, v, s) not in members
        if op == "in":
            return lambda p, v, s: left(p, v, s) in right(p, v, s)
        return lambda p, v, s: left(p, v, s) not in right(p, v, s)
    fn = _BINARY[op]
    return lambda p, v, s: fn(left(p, v, s), right(p, v, s))


def _compile_call(node: Call, policies: Mapping[str, Policy], keys: Keys) -> Evaluator:
    if node.func == "matches":
        value = compile_expr(node.args[0], policies, keys)
        policy_ref = node.args[1]
        assert isinstance(policy_ref, PolicyRef)
        satisfies = policy_checker(policies[policy_ref.name])
        return lambda p, v, s: satisfies(value(p, v, s))
    args = [compile_expr(a, policies, keys) for a in node.args]
    if node.func == "len":
        (arg,) = args
        return lambda p, v, s: len(arg(p, v, s))
    fn = min if node.func == "min" else max
    a, b = args
    return lambda p, v, s: fn(a(p, v, s), b(p, v, s))


def _compile_select(node: Select, policies: Mapping[str, Policy], keys: Keys) -> Evaluator:
    table = {value: compile_expr(case, policies, keys) for value, case in node.cases}
    param = node.param
    return lambda p, v, s: table[p[param]](p, v, s)


def walk(node: Node):
    """Every node of a tree, depth first."""
    yield node
    for child in _children(node):
        yield from walk(child)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``."""
    return _children(node)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call | ListLit):
        return node.args if isinstance(node, Call) else node.items
    if isinstance(node, Select):
        return tuple(case for _, case in node.cases)
    if isinstance(node, InstanceRef | Indexed):
        return (node.index,)
    return ()


def unparse(node: Node) -> str:
    """Readable text of a tree (for diagrams and reports), fully parenthesised where needed."""
    if isinstance(node, Lit):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return repr(node.value) if isinstance(node.value, str) else str(node.value)
    if isinstance(node, ParamRef):
        return node.name
    if isinstance(node, VarRef):
        return node.qualified
    if isinstance(node, StateRef):
        return f"{node.machine}.state"
    if isinstance(node, PolicyRef):
        return node.name
    if isinstance(node, Name):
        return ".".join(node.parts)
    if isinstance(node, Select | InstanceRef | Indexed):
        return _unparse_instance(node)
    if isinstance(node, Unary):
        inner = unparse(node.operand)
        if isinstance(node.operand, Binary):
            inner = f"({inner})"
        return f"not {inner}" if node.op == "not" else f"-{inner}"
    if isinstance(node, Binary):
        def side(child: Node) -> str:
            text = unparse(child)
            return f"({text})" if isinstance(child, Binary) and _weaker(child.op, node.op) else text
        return f"{side(node.left)} {node.op} {side(node.right)}"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(unparse(a) for a in node.args)})"
    if isinstance(node, ListLit):
        return f"[{', '.join(unparse(i) for i in node.items)}]"
    return "?"


def _unparse_instance(node: Select | InstanceRef | Indexed) -> str:
    """``machine[index].name`` as written."""
    index = node.param if isinstance(node, Select) else unparse(node.index)
    return f"{node.machine}[{index}].{node.name}"


_PRECEDENCE = {"implies": 0, "or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4,
               ">=": 4, "in": 4, "not in": 4, "+": 5, "-": 5, "*": 6, "//": 6, "%": 6}


def _weaker(child_op: str, parent_op: str) -> bool:
    return (_PRECEDENCE[child_op] <= _PRECEDENCE[parent_op] and child_op != parent_op) or (
        _PRECEDENCE[child_op] < _PRECEDENCE[parent_op])
