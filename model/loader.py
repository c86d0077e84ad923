"""Load a spec (a system file and its machine files) into the IR, or say exactly what is wrong.

Three passes, each collecting every problem it finds before stopping:
1. read each file safely (yamlsafe) and validate it against the JSON Schema shipped in
   ``schema/authspec.schema.json``;
2. build the IR: resolve names (states, events, variables, reasons, policies, enums),
   parse and type-check every expression;
3. (in checks.py, run by ``authspec validate``) the static checks over the whole system.

A system with ``entities:`` is built as written and then grounded into one copy of each
per-instance machine per instance (model/entities.py). A system file may also
``extends:`` another system file: it then takes everything from that file (machines,
events, rules, ...) and adds or replaces only ``name``, ``label`` and ``entities``, so a
two-customer variant reuses the one-customer policy without copying it.

Every error is a ``SpecError`` at ``file:line:column`` with a hint.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from . import expr as ex
from . import stepprops
from .entities import ground
from .errors import ExprError, SpecError, SpecErrors
from .ir import (
    BOOL,
    INT,
    STR,
    Assignment,
    Assumption,
    Catalogue,
    Entity,
    Event,
    Expr,
    Invariant,
    Machine,
    Param,
    Policy,
    Question,
    Reason,
    Rejection,
    Rule,
    Span,
    State,
    StepProperty,
    System,
    Text,
    Transition,
    Type,
    Variable,
)
from .yamlsafe import Located, read_yaml

SYSTEM_FILE = "system.yaml"
#: The keys a system file that ``extends:`` another may have.
EXTENDING_KEYS = ("authspec", "kind", "extends", "name", "label", "entities")


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of spec files, as shipped in the package."""
    text = resources.files("authspec.model").joinpath("schema/authspec.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)


def default_spec_dir() -> Path:
    """The folder of the shipped specs (the embedded default)."""
    return Path(str(resources.files("authspec.specs")))


def load(path: str | Path | None = None) -> System:
    """Load the system at ``path`` (a folder holding system.yaml, or a system file).

    With no path, load the shipped specs. Raise ``SpecErrors`` listing every problem found.
    """
    system_file = _system_file(Path(path) if path is not None else default_spec_dir())
    return _Builder(system_file).build()


def _system_file(path: Path) -> Path:
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except (OSError, ValueError) as err:
        raise SpecErrors([SpecError(_top(path), f"cannot read the path: {err}",
                                    "give the folder of the specs or the system file")]) from None
    if is_dir:
        candidate = path / SYSTEM_FILE
        if not candidate.exists():
            raise SpecErrors([SpecError(_top(path), f"no {SYSTEM_FILE} in the folder",
                                        _no_system_hint(path))])
        return candidate
    if not exists:
        raise SpecErrors([SpecError(_top(path), "no such file or folder",
                                    "give the folder of the specs or the system file")])
    return path


def _top(path: Path) -> Span:
    """Where a problem with the path given on the command line is reported: its first line."""
    return Span(str(path), 1, 1)


def _no_system_hint(folder: Path) -> str:
    """What to do when a folder has no system.yaml: the candidates near it, if any."""
    nested = sorted(p.parent for p in folder.glob(f"*/{SYSTEM_FILE}"))
    if nested:
        return f"give the folder that holds it, e.g. {nested[0]}"
    listed = sorted(p.name for p in folder.glob("*.yaml"))
    if listed:
        return (f"this folder holds {', '.join(listed[:6])}: name the system file itself "
                f"(the one with 'kind: system'), or rename it {SYSTEM_FILE}")
    return (f"give the folder of the specs (it holds {SYSTEM_FILE}, with 'kind: system', "
            "'machines:' and 'rules:'), or the system file itself")


def _text(value: Any) -> Text:
    if isinstance(value, dict):
        return Text(en=str(value.get("en", "")), zh=str(value.get("zh", "")))
    return Text()


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _suggest(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    listing = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + ", ..."
    prefix = f"did you mean {close[0]!r}? " if close else ""
    return f"{prefix}known: {listing or 'none'}"


def _key_hint(key: Any, allowed: list[str]) -> str:
    """What to write instead of an unknown key; YAML turns an unquoted ``on``, ``off``,
    ``yes`` or ``no`` key into a bool (a step property's ``on:`` is ``events:``)."""
    if isinstance(key, str):
        return _suggest(key, allowed)
    instead = " (for the events a step property applies to: 'events:')" if "events" in (
        allowed) else ""
    return (f"YAML reads an unquoted on, off, yes or no as {key}: use another key{instead}, "
            f"or quote it; known: {', '.join(sorted(allowed))}")


def schema_errors(doc: Located, expected_kind: str) -> list[SpecError]:
    """Check one document against the JSON Schema; every error located and explained."""
    data = doc.data
    if not isinstance(data, dict):
        return [SpecError(doc.span(()), "a spec file must be a mapping",
                          "start with 'authspec: 1' and 'kind: ...'")]
    if data.get("kind") != expected_kind:
        found = data.get("kind")
        return [SpecError(doc.span(("kind",)), f"expected kind: {expected_kind}, found "
                          f"{'no kind' if found is None else repr(found)}",
                          f"this file is listed as a {expected_kind} file; "
                          f"set 'kind: {expected_kind}' or list it elsewhere")]
    validator = _VALIDATOR(schema())
    errors = []
    for error in validator.iter_errors(data):
        errors.extend(_explain(doc, error))
    return errors


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """``pattern`` as JSON Schema means it: ``$`` is the end of the text.

    Python's ``re`` lets ``$`` match before a final newline, so ``"open\\n"`` would pass
    ``^[a-z]+$`` and a name could carry a line break into diagrams and reports."""
    if not isinstance(instance, str):
        return
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if re.search(anchored, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_VALIDATOR = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                          {"pattern": _pattern})


def _explain(doc: Located, error: jsonschema.ValidationError) -> list[SpecError]:
    if error.validator in ("allOf", "oneOf", "anyOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return _explain(doc, best)
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "the top level"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed), key=str)
        return [SpecError(doc.span((*path, key), key=True), f"unknown key {key!r} in {where}",
                          _unknown_key_hint(key, allowed)) for key in extra]
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return [SpecError(doc.span(path), f"{where} needs the key {missing!r}",
                          f"add '{missing}: ...'")]
    if error.validator == "pattern" and "[RQ]" in str(error.validator_value):
        return [SpecError(doc.span(path), f"{error.instance!r} is not a rule or question ID",
                          "cite IDs such as R5 or Q1 from the rules catalogue")]
    if error.validator == "pattern":
        return [SpecError(doc.span(path), f"{error.instance!r} is not a valid name",
                          "names are lower case: letters, digits and '_', starting "
                          "with a letter")]
    if error.validator == "propertyNames":
        return [SpecError(doc.span(path), f"invalid name in {where}: {error.message}",
                          "names are lower case: letters, digits and '_'")]
    return [SpecError(doc.span(path), f"{where}: {error.message}",
                      "see the JSON Schema of spec files: authspec schema -o FILE")]


#: a key no spec key looks like: a fragment of an expression (brackets, operators, spaces)
_FRAGMENT = re.compile(r"[^A-Za-z0-9_]")


def _unknown_key_hint(key: Any, allowed: list[str]) -> str:
    """The hint of an unknown key: the close known key, or, for a key that looks like a
    piece of an expression, how YAML cut it there and how to quote it."""
    if isinstance(key, str) and _FRAGMENT.search(key):
        return (f"{key!r} looks like the end of an expression: in a YAML flow mapping "
                "{when: a(b, c)} the comma ends the value and the rest becomes a key; quote "
                "the expression: {when: \"not matches(p, policy)\"}, or write it on a line "
                "of its own (when: not matches(p, policy))")
    return _key_hint(key, allowed)


class _Builder:
    """Builds a System from files, collecting errors as it goes."""

    def __init__(self, system_file: Path):
        self.system_file = system_file
        self.base = system_file.parent
        self.errors: list[SpecError] = []
        self.docs: dict[str, Located] = {}

    # -- helpers -----------------------------------------------------------------------------
    def error(self, doc: Located, path: tuple, message: str, hint: str = "",
              key: bool = False) -> None:
        self.errors.append(SpecError(doc.span(path, key=key), message, hint))

    def read(self, path: Path, kind: str, named_at: Span | None = None) -> Located | None:
        display = _display(path)
        try:
            doc = read_yaml(path, display, named_at)
        except SpecError as err:
            self.errors.append(err)
            return None
        problems = schema_errors(doc, kind)
        if problems:
            self.errors.extend(problems)
            return None
        self.docs[display] = doc
        return doc

    def stop_if_errors(self) -> None:
        if self.errors:
            raise SpecErrors(self.errors)

    # -- the whole system --------------------------------------------------------------------
    def build(self) -> System:
        sys_doc = self.read(self.system_file, "system")
        self.stop_if_errors()
        assert sys_doc is not None
        own_doc = sys_doc
        sys_doc = self.extended(sys_doc)
        data = sys_doc.data
        catalogue = self.catalogue(sys_doc)
        machine_docs = []
        for index, name in enumerate(data["machines"]):
            path = self.named_file(sys_doc, ("machines", index), name, "machine file")
            if path is None:
                continue
            doc = self.read(path, "machine", sys_doc.span(("machines", index)))
            if doc is not None:
                machine_docs.append((index, doc))
        property_docs = self.property_docs(sys_doc)
        self.stop_if_errors()

        enums = self.enums(sys_doc)
        self.entity_list = self.entities(own_doc, enums, [doc for _, doc in machine_docs])
        self.kinds = {m: e.kind for e in self.entity_list for m in e.machines}
        self.instances = {e.kind: e.instances for e in self.entity_list}
        self.acting = self.acting_kinds([doc for _, doc in machine_docs])
        policies = self.policies(sys_doc)
        reasons = tuple(Reason(code, _text(body.get("label")), sys_doc.span(("reasons", code),
                                                                            key=True))
                        for code, body in data["reasons"].items())
        self.types = {"bool": BOOL, "int": INT, "str": STR, **{e.name: e for e in enums},
                      **{e.kind: e.type for e in self.entity_list}}
        self.policy_map = {p.name: p for p in policies}
        self.reason_codes = {r.code for r in reasons}
        events = self.events(sys_doc)
        self.event_map = {e.name: e for e in events}

        # Names every expression may see: states and variables of all machines.
        shells = []
        seen_names: dict[str, Located] = {}
        for _, doc in machine_docs:
            name = doc.data["name"]
            if name in seen_names:
                self.error(doc, ("name",), f"two machines are named {name!r} "
                           f"(the other is {seen_names[name].file})", "rename one")
                continue
            seen_names[name] = doc
            shells.append((doc, self.states(doc), self.variables(doc)))
        self.stop_if_errors()
        self.all_states = {doc.data["name"]: tuple(s.name for s in states)
                           for doc, states, _ in shells}
        self.all_vars = {doc.data["name"]: {v.name: v.type for v in variables}
                         for doc, _, variables in shells}
        self.check_shadowing(shells)
        self.check_unobserved(shells)

        machines = tuple(self.machine(doc, states, variables) for doc, states, variables in shells)
        invariants = tuple(self.invariants(sys_doc, ("invariants",), None))
        otherwise = data["otherwise"]
        if otherwise not in self.reason_codes:
            self.error(sys_doc, ("otherwise",), f"unknown reason {otherwise!r}",
                       _suggest(otherwise, self.reason_codes))
        assumptions = tuple(
            Assumption(qid, _text(body["choice"]), tuple(body["rules"]),
                       sys_doc.span(("assumptions", qid), key=True))
            for qid, body in (data.get("assumptions") or {}).items())
        step_properties = self.all_step_properties(
            [(sys_doc, None), *((doc, doc.data["name"]) for doc, _, _ in shells),
             *((doc, None) for doc in property_docs)])
        self.stop_if_errors()
        own = own_doc.data
        return ground(System(
            name=own.get("name", data["name"]), label=_text(own.get("label", data.get("label"))),
            machines=machines, events=events, reasons=reasons, policies=policies, enums=enums,
            invariants=invariants, assumptions=assumptions, catalogue=catalogue,
            otherwise=otherwise, file=own_doc.file, span=own_doc.span(()),
            step_properties=step_properties, entities=self.entity_list))

    # -- extends and entities ----------------------------------------------------------------
    def extended(self, doc: Located) -> Located:
        """The system document ``doc`` extends (``doc`` itself when it extends none)."""
        data = doc.data
        if "extends" not in data:
            return doc
        for key in data:
            if key not in EXTENDING_KEYS:
                self.error(doc, (key,), f"{key!r} cannot be given beside 'extends'",
                           "a system file that extends another takes its machines, events, "
                           f"rules and reasons from it; it may give {', '.join(EXTENDING_KEYS)}",
                           key=True)
        path = self.named_file(doc, ("extends",), data["extends"], "extended system file")
        self.stop_if_errors()
        assert path is not None
        base = self.read(path, "system", doc.span(("extends",)))
        self.stop_if_errors()
        assert base is not None
        if "extends" in base.data:
            self.error(base, ("extends",), "an extended system file extends another one",
                       "extend the system file that declares the machines, directly", key=True)
            self.stop_if_errors()
        self.base = path.parent
        return self.extended(base)

    def entities(self, doc: Located, enums: tuple[Type, ...], machine_docs: list[Located]
                 ) -> tuple[Entity, ...]:
        """The ``entities:`` of the system file (see model/entities.py), checked."""
        names = [d.data["name"] for d in machine_docs]
        taken = {"bool", "int", "str", "state", *(e.name for e in enums)}
        result = []
        claimed: dict[str, str] = {}
        for kind, body in (doc.data.get("entities") or {}).items():
            path = ("entities", kind)
            if kind in taken:
                self.error(doc, path, f"entity kind {kind!r} has the name of a type",
                           "give the kind another name", key=True)
            spec = body if isinstance(body, dict) else {"instances": body}
            instances = spec["instances"]
            if isinstance(instances, int):
                instances = [f"{kind}{n}" for n in range(1, instances + 1)]
            machines = tuple(spec.get("machines", names))
            for index, machine in enumerate(machines):
                where = (*path, "machines", index)
                if machine not in names:
                    self.error(doc, where, f"unknown machine {machine!r}",
                               _suggest(machine, names))
                elif machine in claimed:
                    self.error(doc, where, f"machine {machine!r} already exists once per "
                               f"{claimed[machine]}", "a machine belongs to one entity kind")
                claimed[machine] = kind
            result.append(Entity(kind, tuple(instances),
                                 tuple(m for m in names if m in machines),
                                 _text(spec.get("label")), doc.span(path, key=True)))
        return tuple(result)

    def acting_kinds(self, machine_docs: list[Located]) -> dict[str, list[str]]:
        """Event name -> the entity kinds whose machines react to it (rule 3)."""
        acting: dict[str, list[str]] = {}
        for doc in machine_docs:
            kind = self.kinds.get(doc.data["name"])
            if kind is None:
                continue
            for section in ("transitions", "rejects"):
                for item in doc.data.get(section) or []:
                    for event in _as_tuple(item["event"]):
                        kinds = acting.setdefault(event, [])
                        if kind not in kinds:
                            kinds.append(kind)
        return acting

    def implicit_params(self, doc: Located, name: str, declared: dict[str, Any]
                        ) -> list[Param]:
        """The parameters naming the instances event ``name`` acts on (rule 3)."""
        result = []
        for kind in self.acting.get(name, ()):
            entity = next(e for e in self.entity_list if e.kind == kind)
            if kind in declared:
                self.error(doc, ("events", name, "params", kind), f"parameter {kind!r} of "
                           f"event {name!r} has the name of an entity kind",
                           f"the event names the {kind} it acts on by itself (the implicit "
                           f"parameter {kind!r}); rename this one", key=True)
            result.append(Param(kind, entity.type, entity.label,
                                span=doc.span(("events", name), key=True), entity=kind,
                                implicit=True))
        return result

    def named_file(self, doc: Located, path: tuple, name: str, what: str) -> Path | None:
        """The file that ``name`` (written at ``path`` of ``doc``) names, if it exists."""
        target = self.base / name
        try:
            exists = target.exists()
        except (OSError, ValueError) as err:
            self.error(doc, path, f"{what} {name[:80]!r}: {getattr(err, 'strerror', err)}",
                       "give the name of a YAML file beside the system file")
            return None
        if not exists:
            self.error(doc, path, f"{what} {name[:80]!r} not found",
                       f"files beside the system file: {_listing(self.base)}")
            return None
        return target

    def catalogue(self, sys_doc: Located) -> Catalogue:
        path = self.named_file(sys_doc, ("rules",), sys_doc.data["rules"], "rules catalogue")
        self.stop_if_errors()
        assert path is not None
        doc = self.read(path, "rules", sys_doc.span(("rules",)))
        self.stop_if_errors()
        assert doc is not None
        data = doc.data
        rules = tuple(Rule(r["id"], r["clause"], r["reading"], r.get("section", ""),
                           doc.span(("rules", i)))
                      for i, r in enumerate(data["rules"]))
        questions = tuple(Question(q["id"], q["question"], doc.span(("questions", i)))
                          for i, q in enumerate(data["questions"]))
        listed = (("rules", [r.id for r in rules]), ("questions", [q.id for q in questions]))
        for kind, ids in listed:
            seen: set[str] = set()
            for index, item_id in enumerate(ids):
                if item_id in seen:
                    self.error(doc, (kind, index, "id"), f"{item_id} is listed twice",
                               "give each rule and question its own ID")
                seen.add(item_id)
        return Catalogue(data.get("source", ""), rules, questions, doc.file)

    def enums(self, doc: Located) -> tuple[Type, ...]:
        result = []
        for name, body in (doc.data.get("enums") or {}).items():
            if name in ("bool", "int", "str"):
                self.error(doc, ("enums", name), f"{name!r} is a built-in type",
                           "give the enum another name", key=True)
            result.append(Type("enum", name, tuple(body["values"])))
        return tuple(result)

    def policies(self, doc: Located) -> tuple[Policy, ...]:
        result = []
        for name, body in (doc.data.get("policies") or {}).items():
            low, high = body["length"]
            if low > high:
                self.error(doc, ("policies", name, "length"), f"length [{low}, {high}]: the "
                           "minimum is above the maximum", "write [minimum, maximum]")
            alphabet = tuple(body["alphabet"])
            require = tuple(body.get("require", ()))
            for index, cls in enumerate(require):
                allowed = cls in alphabet or (cls in ("lower", "upper") and "letter" in alphabet)
                if not allowed:
                    self.error(doc, ("policies", name, "require", index), f"{name} requires "
                               f"{cls!r} characters but its alphabet does not allow them",
                               f"add {cls!r} to alphabet, or drop it from require")
            if len(require) > high:
                self.error(doc, ("policies", name, "require"), f"{name} requires more "
                           "character classes than its maximum length", "raise the maximum")
            result.append(Policy(
                name, low, high, alphabet, require, body.get("case_sensitive", True),
                _text(body.get("label")), tuple(body.get("rules", ())),
                doc.span(("policies", name), key=True)))
        return tuple(result)

    def resolve_type(self, doc: Located, path: tuple, body: dict[str, Any]) -> Type | None:
        name = body["type"]
        base = self.types.get(name)
        if base is None:
            self.error(doc, (*path, "type"), f"unknown type {name!r}",
                       _suggest(name, self.types))
            return None
        has_bounds = "min" in body or "max" in body
        if base.kind != "int":
            if has_bounds:
                self.error(doc, (*path, "min" if "min" in body else "max"),
                           f"min and max apply to int, not {name}", "remove them")
            return base
        if "min" not in body or "max" not in body:
            self.error(doc, (*path, "type"), "an int needs both min and max",
                       "bounds keep the state space finite; add e.g. min: 0 and max: 1000")
            return None
        if body["min"] > body["max"]:
            self.error(doc, (*path, "min"), f"min {body['min']} is above max {body['max']}",
                       "swap them")
            return None
        return Type("int", "int", min=body["min"], max=body["max"])

    def events(self, doc: Located) -> tuple[Event, ...]:
        result = []
        for name, body in doc.data["events"].items():
            body = body or {}
            params = self.implicit_params(doc, name, body.get("params") or {})
            for pname, pbody in (body.get("params") or {}).items():
                path = ("events", name, "params", pname)
                typ = self.resolve_type(doc, path, pbody)
                for index, policy in enumerate(pbody.get("policies", ())):
                    if policy not in self.policy_map:
                        self.error(doc, (*path, "policies", index), f"unknown policy {policy!r}",
                                   _suggest(policy, self.policy_map))
                if pbody.get("policies") and typ is not None and typ.kind != "str":
                    self.error(doc, (*path, "policies"), "policies apply to str parameters",
                               "remove them, or make the parameter a str")
                if pname == "state":
                    self.error(doc, path, "'state' is reserved", "rename the parameter",
                               key=True)
                params.append(Param(pname, typ or STR, _text(pbody.get("label")),
                                    pbody.get("unit", ""), bool(pbody.get("secret", False)),
                                    tuple(pbody.get("policies", ())), doc.span(path, key=True),
                                    entity=pbody["type"] if pbody["type"] in self.instances
                                    else "", issued_by=self.issued_by(doc, path, pbody, typ)))
            result.append(Event(name, tuple(params), _text(body.get("label")),
                                body.get("extension", ""), doc.span(("events", name), key=True)))
        return tuple(result)

    def issued_by(self, doc: Located, path: tuple, body: dict, typ: Type | None) -> str:
        """The event named by a parameter's ``issued_by`` ("" without one): an event of the
        system, on an int parameter with min 0 (an index among the tokens it issued)."""
        issuer = body.get("issued_by")
        if issuer is None:
            return ""
        events = doc.data["events"]
        if issuer not in events:
            self.error(doc, (*path, "issued_by"), f"unknown event {issuer!r}",
                       _suggest(issuer, events))
        if typ is not None and (typ.kind != "int" or typ.min != 0):
            self.error(doc, (*path, "issued_by"), "issued_by applies to an int parameter "
                       "with min: 0 (0 the latest token issued, 1 the one before, ...)",
                       "declare it {type: int, min: 0, max: 2, issued_by: EVENT}")
        return str(issuer)

    # -- one machine -------------------------------------------------------------------------
    def states(self, doc: Located) -> tuple[State, ...]:
        name = doc.data["name"]
        states = tuple(
            State(sname, name, _text((body or {}).get("label")), bool((body or {}).get("initial")),
                  bool((body or {}).get("final")), doc.span(("states", sname), key=True))
            for sname, body in doc.data["states"].items())
        initial = [s for s in states if s.initial]
        if len(initial) != 1:
            where = ("states", initial[1].name) if len(initial) > 1 else ("states",)
            self.error(doc, where, f"machine {name!r} has {len(initial)} initial states",
                       "mark exactly one state with 'initial: true'")
        return states

    def variables(self, doc: Located) -> tuple[Variable, ...]:
        machine = doc.data["name"]
        result = []
        for vname, body in (doc.data.get("variables") or {}).items():
            path = ("variables", vname)
            if vname == "state":
                self.error(doc, path, "'state' is reserved for the machine's state",
                           "rename the variable", key=True)
            typ = self.resolve_type(doc, path, body)
            if typ is None:
                continue
            initial = body["initial"]
            if not typ.contains(initial):
                self.error(doc, (*path, "initial"), f"initial value {initial!r} does not fit "
                           f"the type {typ.describe()}", "give a value of the declared type")
            unobserved = tuple(state if "." in state else f"{machine}.{state}"
                               for state in body.get("unobserved_in") or ())
            result.append(Variable(machine, vname, typ, initial, _text(body.get("label")),
                                   body.get("unit", ""), bool(body.get("secret", False)),
                                   doc.span(path, key=True), unobserved))
        return tuple(result)

    def check_unobserved(self, shells: list) -> None:
        """Every state named in a variable's ``unobserved_in`` is ``machine.state`` of the
        system (a bare ``state`` is one of the variable's own machine)."""
        known = sorted(f"{m}.{s}" for m, states in self.all_states.items() for s in states)
        for doc, _, variables in shells:
            for variable in variables:
                for index, state in enumerate(variable.unobserved_in):
                    if state in known:
                        continue
                    self.error(doc, ("variables", variable.name, "unobserved_in", index),
                               f"unobserved_in of {variable.qualified}: no state {state!r}",
                               "name a state as machine.state (or a state of this machine "
                               "alone); " + _suggest(state, known))

    def check_shadowing(self, shells: list) -> None:
        """A parameter must not hide a variable of a machine that reacts to its event."""
        for doc, _, variables in shells:
            names = {v.name for v in variables}
            events: set[str] = set()
            for section in ("transitions", "rejects"):
                for item in doc.data.get(section) or []:
                    events.update(_as_tuple(item["event"]))
            for event_name in sorted(events & set(self.event_map)):
                for param in self.event_map[event_name].params:
                    if param.name in names:
                        self.error(doc, ("variables", param.name), f"variable {param.name!r} "
                                   f"has the name of a parameter of event {event_name!r}",
                                   "rename the variable or the parameter: in expressions "
                                   "the parameter would hide it", key=True)

    def machine(self, doc: Located, states: tuple[State, ...],
                variables: tuple[Variable, ...]) -> Machine:
        name = doc.data["name"]
        self.current_doc = doc
        self.local_ids: dict[str, tuple] = {}
        transitions: list[Transition] = []
        for index, item in enumerate(doc.data.get("transitions") or []):
            transitions.extend(self.transition(doc, name, index, item, variables))
        rejections: list[Rejection] = []
        for index, item in enumerate(doc.data.get("rejects") or []):
            rejections.extend(self.rejection(doc, name, index, item, variables))
        invariants = tuple(self.invariants(doc, ("invariants",), name))
        return Machine(name, _text(doc.data.get("label")), states, variables, tuple(transitions),
                       tuple(rejections), invariants, doc.file, doc.span(()),
                       entity=self.kinds.get(name, ""))

    def element_id(self, doc: Located, machine: str, path: tuple, item: dict, event: str,
                   default: str, many: bool) -> str:
        local = item.get("id", default)
        if many:
            local = f"{local}.{event}" if "id" in item else local
        full = f"{machine}.{local}"
        if full in self.local_ids:
            self.error(doc, (*path, "id") if "id" in item else path,
                       f"two elements of {machine} have the id {local!r}",
                       "give each transition and refusal its own 'id'")
        self.local_ids[full] = path
        return full

    def source_states(self, doc: Located, path: tuple, item: dict, machine: str
                      ) -> tuple[str, ...]:
        sources = _as_tuple(item.get("from"))
        for index, source in enumerate(sources):
            if source not in self.all_states[machine]:
                where = (*path, "from", index) if isinstance(item.get("from"), list) else (
                    *path, "from")
                self.error(doc, where, f"unknown state {source!r} of machine {machine}",
                           _suggest(source, self.all_states[machine]))
        return sources

    def events_of(self, doc: Located, path: tuple, item: dict) -> list[str]:
        names = list(_as_tuple(item["event"]))
        good = []
        for index, name in enumerate(names):
            if name in self.event_map:
                good.append(name)
                continue
            where = (*path, "event", index) if isinstance(item["event"], list) else (
                *path, "event")
            self.error(doc, where, f"unknown event {name!r}", _suggest(name, self.event_map)
                       + "; events are declared in the system file")
        return good

    def target_state(self, doc: Located, path: tuple, item: dict, machine: str) -> str | None:
        """The ``to:`` of a transition or refusal (None: it stays), checked."""
        target = item.get("to")
        if target is not None and target not in self.all_states[machine]:
            self.error(doc, (*path, "to"), f"unknown state {target!r} of machine {machine}",
                       _suggest(target, self.all_states[machine]))
        return target

    def effects(self, doc: Located, path: tuple, item: dict, machine: str, event: str,
                variables: tuple[Variable, ...], what: str) -> tuple[Assignment, ...]:
        """The ``do:`` of a transition or refusal: assignments to its own machine's variables."""
        effects = []
        for var_name, value in (item.get("do") or {}).items():
            var = next((v for v in variables if v.name == var_name), None)
            if var is None:
                self.error(doc, (*path, "do", var_name), f"{machine} has no variable "
                           f"{var_name!r}", self.foreign_hint(machine, var_name, variables, what),
                           key=True)
                continue
            value_expr = self.expression(doc, (*path, "do", var_name), value, machine, event,
                                         var.type)
            if value_expr is not None:
                effects.append(Assignment(var_name, value_expr,
                                          doc.span((*path, "do", var_name), key=True)))
        return tuple(effects)

    def foreign_hint(self, machine: str, name: str, variables: tuple[Variable, ...],
                     what: str) -> str:
        owners = sorted(m for m, names in self.all_vars.items() if m != machine and name in names)
        if owners:
            return (f"{name!r} is a variable of {', '.join(owners)}; a {what} assigns only its "
                    f"own machine's variables: assign it in a {what} of {owners[0]}")
        return (_suggest(name, [v.name for v in variables])
                + f"; a {what} assigns only its own machine's variables")

    def transition(self, doc: Located, machine: str, index: int, item: dict,
                   variables: tuple[Variable, ...]) -> list[Transition]:
        path = ("transitions", index)
        sources = self.source_states(doc, path, item, machine)
        target = self.target_state(doc, path, item, machine)
        events = self.events_of(doc, path, item)
        result = []
        for event in events:
            tid = self.element_id(doc, machine, path, item, event, event, len(events) > 1)
            guard = self.expression(doc, (*path, "when"), item.get("when"), machine, event, BOOL)
            effects = self.effects(doc, path, item, machine, event, variables, "transition")
            result.append(Transition(tid, machine, event, sources, target, guard, effects,
                                     tuple(item["rules"]), _text(item.get("label")),
                                     doc.span(path)))
        return result

    def rejection(self, doc: Located, machine: str, index: int, item: dict,
                  variables: tuple[Variable, ...]) -> list[Rejection]:
        path = ("rejects", index)
        sources = self.source_states(doc, path, item, machine)
        target = self.target_state(doc, path, item, machine)
        reason = item["reason"]
        if reason not in self.reason_codes:
            self.error(doc, (*path, "reason"), f"unknown reason {reason!r}",
                       _suggest(reason, self.reason_codes) + "; declare reasons in the "
                       "system file's 'reasons'")
        events = self.events_of(doc, path, item)
        result = []
        for event in events:
            rid = self.element_id(doc, machine, path, item, event, f"reject_{event}_{index}",
                                  len(events) > 1)
            guard = self.expression(doc, (*path, "when"), item.get("when"), machine, event, BOOL)
            effects = self.effects(doc, path, item, machine, event, variables, "refusal")
            result.append(Rejection(rid, machine, event, sources, guard, reason,
                                    tuple(item["rules"]), _text(item.get("label")),
                                    doc.span(path), effects, target))
        return result

    def invariants(self, doc: Located, path: tuple, machine: str | None) -> Iterable[Invariant]:
        seen: set[str] = set()
        for index, item in enumerate(doc.data.get("invariants") or []):
            ipath = (*path, index)
            iid = item["id"] if machine is None else f"{machine}.{item['id']}"
            if iid in seen:
                self.error(doc, (*ipath, "id"), f"invariant id {item['id']!r} is used twice",
                           "give each invariant its own id")
            seen.add(iid)
            expression = self.expression(doc, (*ipath, "expr"), item["expr"], machine, None, BOOL)
            if expression is not None:
                yield Invariant(iid, machine, expression, tuple(item["rules"]),
                                _text(item.get("label")), doc.span(ipath))

    # -- step properties ---------------------------------------------------------------------
    def property_docs(self, sys_doc: Located) -> list[Located]:
        """The files of ``kind: properties`` the system file lists in ``property_files:``."""
        docs = []
        for index, name in enumerate(sys_doc.data.get("property_files") or []):
            path = self.named_file(sys_doc, ("property_files", index), name, "properties file")
            if path is None:
                continue
            doc = self.read(path, "properties", sys_doc.span(("property_files", index)))
            if doc is not None:
                docs.append(doc)
        return docs

    def all_step_properties(self, docs: list[tuple[Located, str | None]]
                            ) -> tuple[StepProperty, ...]:
        """The ``step_properties:`` of every file (system, machines, properties files), each
        id used once in the whole system."""
        seen: dict[str, Span] = {}
        result = []
        for doc, machine in docs:
            for index, item in enumerate(doc.data.get("step_properties") or []):
                path = ("step_properties", index)
                pid = item["id"] if machine is None else f"{machine}.{item['id']}"
                if pid in seen:
                    self.error(doc, (*path, "id"), f"step property id {pid!r} is used twice "
                               f"(first at {seen[pid]})", "give each step property its own id")
                    continue
                seen[pid] = doc.span(path)
                prop = self.step_property(doc, path, item, pid, machine)
                if prop is not None:
                    result.append(prop)
        return tuple(result)

    def step_property(self, doc: Located, path: tuple, item: dict, pid: str,
                      machine: str | None) -> StepProperty | None:
        """One step property: its events resolved, its ``holds:`` parsed and checked."""
        events = _as_tuple(item.get("events"))
        for index, name in enumerate(events):
            if name not in self.event_map:
                where = (*path, "events", index) if isinstance(item["events"], list) else (
                    *path, "events")
                self.error(doc, where, f"unknown event {name!r} (step property {pid})",
                           _suggest(name, self.event_map) + "; events are declared in the "
                           "system file")
        if any(name not in self.event_map for name in events):
            return None
        declared = tuple(self.event_map[name] for name in events)
        for event in declared:
            for param in event.params:
                if param.name in (*stepprops.OUTCOME_NAMES, *stepprops.MOMENTS):
                    self.error(doc, (*path, "events"), f"event {event.name}'s parameter "
                               f"{param.name!r} has the name of what a step property reads "
                               f"of the step itself ({param.name})",
                               "rename the parameter: in a step property the built-in "
                               "name would hide it")
        scope = stepprops.StepScope(machine, declared, tuple(self.event_map),
                                    tuple(sorted(self.reason_codes)), self.all_vars,
                                    self.all_states, self.policy_map)
        source = item["holds"]
        text = source if isinstance(source, str) else ("true" if source else "false")
        try:
            tree, typ = stepprops.check_holds(text, scope)
        except ExprError as err:
            self.errors.append(SpecError(doc.expr_span((*path, "holds"), err.offset),
                                         f"{err.message} (step property {pid})", err.hint))
            return None
        offsets = tuple((at, doc.expr_span((*path, "holds"), at)) for at in sorted(
            {node.offset for node in ex.walk(tree)}))
        holds = Expr(text, tree, typ, doc.span((*path, "holds")), offsets)
        return StepProperty(pid, machine, events, holds, tuple(item["rules"]),
                            _text(item.get("label")), doc.span(path))

    def expression(self, doc: Located, path: tuple, source: Any, machine: str | None,
                   event: str | None, expected: Type) -> Expr | None:
        if source is None:
            return None
        text = source if isinstance(source, str) else (
            ("true" if source else "false") if isinstance(source, bool) else str(source))
        params = ({p.name: p.type for p in self.event_map[event].params} if event else {})
        scope = ex.Scope(params, machine, self.all_vars, self.all_states, self.policy_map, event,
                         self.kinds, self.instances)
        try:
            tree, typ = ex.check(ex.parse(text), scope, expected)
        except ExprError as err:
            context = f" (event {event})" if event else ""
            self.errors.append(SpecError(doc.expr_span(path, err.offset),
                                         f"{err.message}{context}", err.hint))
            return None
        offsets = tuple((at, doc.expr_span(path, at)) for at in sorted(
            {node.offset for node in ex.walk(tree)}))
        return Expr(text, tree, typ, doc.span(path), offsets)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _listing(folder: Path) -> str:
    names = sorted(p.name for p in folder.glob("*.yaml"))
    return ", ".join(names) or "none"
