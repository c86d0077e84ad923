"""The HTTP mapping file: how each spec event becomes HTTP requests (``--mapping FILE``).

``load_mapping(path, system)`` reads the YAML file safely (model/yamlsafe.py: bounded,
standard tags only, no duplicate keys), validates it against the JSON Schema shipped as
``harness/schema/http-mapping.schema.json`` and against the spec (every event mapped, no
event the spec does not declare, ``when:`` and ``cases:`` naming parameters the spec has,
``codes:`` naming spec reasons), and returns an ``HttpMapping``. Every problem is a
``SpecError`` at ``file:line:column`` with what to do; all of them are raised together as
``SpecErrors``.

Templates substitute ``{name}`` placeholders and nothing else (``{{`` and ``}}`` are
literal braces): nothing in a mapping is ever evaluated. See ``render`` in
harness/http_adapter.py and docs/harness.md for the language.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from authspec.model.errors import SpecError, SpecErrors
from authspec.model.ir import System
from authspec.model.yamlsafe import Located, read_yaml

from .backends import BackendNotFound, load_object
from .codes import Codes, codes_from

DEFAULT_ACCEPTED = (200, 201, 204)
DEFAULT_CODE_POINTER = "/error/code"
DEFAULT_TIMEOUT = 5.0
SCHEMA_FILE = "schema/http-mapping.schema.json"

Hook = Callable[..., Any]


@cache
def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of mapping files, as shipped in the package."""
    text = resources.files("authspec.harness").joinpath(SCHEMA_FILE).read_text(
        encoding="utf-8")
    return dict(json.loads(text))


def key_of(value: Any) -> str:
    """A parameter's or a JSON value's text as tables key it: ``true``, ``5``, ``expired``."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class RequestSpec:
    """One request of an event (or of the reset, or the observation)."""

    label: str  # "events.pay[2]"
    where: str  # file:line:column
    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    when: Mapping[str, frozenset[str]] = field(default_factory=dict)
    decides: bool = True
    capture: Mapping[str, str] = field(default_factory=dict)
    forget: tuple[str, ...] = ()
    cases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    derive: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    hook: Hook | None = None
    expect: frozenset[int] = frozenset()

    def applies(self, params: Mapping[str, Any]) -> bool:
        """Whether the ``when:`` conditions hold for these parameters."""
        return all(key_of(params.get(name)) in wanted for name, wanted in self.when.items())

    def __str__(self) -> str:
        return f"{self.label} ({self.method} {self.path}, {self.where})"


@dataclass(frozen=True)
class StateSpec:
    """How one machine's state is read from the observation's body."""

    pointer: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    hook: Hook | None = None


@dataclass(frozen=True)
class ObserveSpec:
    request: RequestSpec
    states: Mapping[str, StateSpec]
    variables: Mapping[str, str]


@dataclass(frozen=True)
class HttpMapping:
    """A loaded, validated mapping file."""

    file: str
    base_url: str | None
    timeout: float
    keep_alive: bool
    values: Mapping[str, Any]
    fresh: Mapping[str, tuple[str, int]]  # name -> (prefix, digits)
    captured: Mapping[str, Any]  # name -> its value at each reset (a template)
    secrets: frozenset[str]
    cases: Mapping[str, Mapping[str, Any]]
    accepted: frozenset[int]
    code_pointer: str
    without_body: Mapping[int, str]
    codes: Codes
    reset: tuple[RequestSpec, ...]
    events: Mapping[str, tuple[RequestSpec, ...]]
    observe: ObserveSpec | None


# ---------------------------------------------------------------------- loading


class _Reader:
    """Builds an ``HttpMapping`` from a located document, collecting errors."""

    def __init__(self, doc: Located, system: System, base: Path) -> None:
        self.doc, self.system, self.base = doc, system, base
        self.errors: list[SpecError] = []

    def error(self, path: tuple[Any, ...], message: str, hint: str, key: bool = False) -> None:
        self.errors.append(SpecError(self.doc.span(path, key=key), message, hint))

    def where(self, path: tuple[Any, ...]) -> str:
        return str(self.doc.span(path))

    def hook(self, path: tuple[Any, ...], name: str | None) -> Hook | None:
        if name is None:
            return None
        module, _, attribute = name.partition(":")
        if module.endswith(".py") and not Path(module).is_absolute():
            module = str(self.base / module)
        try:
            target = load_object(f"{module}:{attribute}")
        except BackendNotFound as error:
            self.error(path, f"hook {name!r} cannot be imported: {error}",
                       "name it module:function (importable) or file.py:function "
                       "(relative to the mapping file)")
            return None
        if not callable(target):
            self.error(path, f"hook {name!r} is not callable", "name a function")
            return None
        return target  # type: ignore[no-any-return]

    def request(self, path: tuple[Any, ...], data: Mapping[str, Any],
                event: str | None = None) -> RequestSpec:
        label = ".".join(str(p) for p in path[:-1]) + f"[{path[-1] + 1}]" \
            if isinstance(path[-1], int) else ".".join(str(p) for p in path)
        params = self._params(event)
        when = {}
        for name, wanted in data.get("when", {}).items():
            if params is not None and name not in params:
                self.error((*path, "when", name), f"{label}: when: {name!r} is not a "
                           f"parameter of {event}", f"its parameters: {', '.join(params)}",
                           key=True)
            values = wanted if isinstance(wanted, list) else [wanted]
            when[name] = frozenset(key_of(v) for v in values)
        cases = self.cases((*path, "cases"), data.get("cases", {}))
        return RequestSpec(
            label=label, where=self.where(path), method=data["method"], path=data["path"],
            query=data.get("query", {}), headers=data.get("headers", {}),
            body=data.get("body"), has_body="body" in data, when=when,
            decides=data.get("decides", True), capture=data.get("capture", {}),
            forget=tuple(data.get("forget", ())), cases=cases,
            derive=data.get("derive", {}), hook=self.hook((*path, "hook"), data.get("hook")),
            expect=frozenset(data.get("expect", ())))

    def _params(self, event: str | None) -> list[str] | None:
        if event is None or event not in {e.name for e in self.system.events}:
            return None
        return [p.name for p in self.system.event(event).params]

    def cases(self, path: tuple[Any, ...], data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        known = {p.name for e in self.system.events for p in e.params}
        out = {}
        for name, table in data.items():
            if name not in known:
                self.error((*path, name), f"cases: {name!r} is not a parameter of any event",
                           "cases are keyed by the spec's parameter names", key=True)
            out[name] = {key_of(k): v for k, v in table.items()}
        return out

    def events(self, data: Mapping[str, Any]) -> dict[str, tuple[RequestSpec, ...]]:
        declared = [e.name for e in self.system.events]
        for name in data:
            if name not in declared:
                self.error(("events", name), f"events: {name!r} is not an event of the spec",
                           f"the spec's events: {', '.join(declared)}", key=True)
        missing = [e for e in declared if e not in data]
        if missing:
            self.error(("events",), f"events: no requests for {', '.join(missing)}",
                       "map every event of the spec to the requests that carry it")
        return {name: tuple(self.request(("events", name, i), r, name)
                            for i, r in enumerate(requests))
                for name, requests in data.items()}

    def observe(self, data: Mapping[str, Any] | None) -> ObserveSpec | None:
        if data is None:
            return None
        machines = {m.name for m in self.system.machines}
        states = {}
        for machine, entry in data.get("states", {}).items():
            if machine not in machines:
                self.error(("observe", "states", machine), f"observe: no machine {machine!r} "
                           "in the spec", f"its machines: {', '.join(sorted(machines))}",
                           key=True)
            states[machine] = StateSpec(
                entry.get("pointer", ""),
                {key_of(k): v for k, v in entry.get("values", {}).items()},
                self.hook(("observe", "states", machine, "hook"), entry.get("hook")))
        variables = {v.qualified for v in self.system.variables}
        for name in data.get("variables", {}):
            if name not in variables:
                self.error(("observe", "variables", name), f"observe: no variable {name!r} "
                           "in the spec", "variables are named machine.variable", key=True)
        return ObserveSpec(self.request(("observe", "request"), data["request"]), states,
                           dict(data.get("variables", {})))


def _normalised(data: Any) -> Any:
    """The document with every key as text (YAML reads ``true:`` and ``401:`` as values)."""
    if isinstance(data, dict):
        return {key_of(k): _normalised(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_normalised(v) for v in data]
    return data


def _schema_errors(doc: Located) -> list[SpecError]:
    validator = jsonschema.Draft202012Validator(mapping_schema())
    errors = []
    for error in validator.iter_errors(_normalised(doc.data)):
        if error.validator in ("oneOf", "anyOf") and error.context:
            error = jsonschema.exceptions.best_match(error.context)
        path = tuple(error.absolute_path)
        where = ".".join(str(p) for p in path) or "the top level"
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - set(allowed)):
                errors.append(SpecError(doc.span((*path, extra), key=True),
                                        f"unknown key {extra!r} in {where}",
                                        f"allowed here: {', '.join(allowed)}"))
            continue
        errors.append(SpecError(doc.span(path), f"{where}: {error.message}",
                                f"see {SCHEMA_FILE} in the authspec.harness package "
                                "(docs/harness.md explains every key)"))
    return errors


def load_mapping(path: str | Path, system: System) -> HttpMapping:
    """Read and validate a mapping file; ``SpecErrors`` (every problem, located) if bad."""
    path = Path(path)
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise SpecErrors([SpecError(doc.span(()), "a mapping file must be a YAML mapping",
                                    "start with 'authspec-http: 1' and 'events:'")])
    errors = _schema_errors(doc)
    if errors:
        raise SpecErrors(errors)
    data = _normalised(doc.data)
    reader = _Reader(doc, system, path.parent)
    codes, code_errors = codes_from(doc, ("codes",), data.get("codes", {}), system)
    reader.errors.extend(code_errors)
    response = data.get("response", {})
    mapping = HttpMapping(
        file=str(path), base_url=data.get("base_url"),
        timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        keep_alive=bool(data.get("keep_alive", True)),
        values=data.get("values", {}),
        fresh={k: (v.get("prefix", ""), v["digits"]) for k, v in data.get("fresh", {}).items()},
        captured=data.get("captured", {}), secrets=frozenset(data.get("secrets", ())),
        cases=reader.cases(("cases",), data.get("cases", {})),
        accepted=frozenset(response.get("accepted", DEFAULT_ACCEPTED)),
        code_pointer=response.get("code", DEFAULT_CODE_POINTER),
        without_body={int(k): v for k, v in response.get("without_body", {}).items()},
        codes=codes,
        reset=tuple(reader.request(("reset", i), r) for i, r in enumerate(data.get("reset", ()))),
        events=reader.events(data["events"]),
        observe=reader.observe(data.get("observe")),
    )
    if reader.errors:
        raise SpecErrors(reader.errors)
    return mapping
