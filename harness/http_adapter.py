"""The generic HTTP adapter: ``authspec check --backend http --mapping FILE --base-url URL``.

``HttpAdapter`` carries each spec event to a service as the requests its mapping file
(harness/http_mapping.py) lists, with one ``httpx.Client`` per backend, and reads the
answers back into ``Response``s: a status among ``response.accepted`` is an acceptance; any
other 4xx is a refusal whose code is at the JSON pointer ``response.code`` of the body (or
the code ``response.without_body`` gives its status), translated by ``codes:`` into the spec
reasons it stands for. Values captured from accepted answers (a session token, a card
number, a challenge) are kept per customer and substituted into later requests.

Templates substitute ``{name}`` and nothing else; never is anything evaluated. A string
that is exactly ``{name}`` becomes the value itself (any JSON type) in a body; ``{omit}``
drops the key (or header, or query parameter) that holds it; inside a longer string a value
is written as its text (JSON for non-strings), URL-quoted in paths and query strings.

Faults are raised as ``HttpFault`` (the harness reports a backend error with the step):
no connection, a timeout, a 5xx, an answer that is not the declared shape, a code neither
mapped nor declared by the spec. ``curl_lines`` writes the requests of a trace as curl
command lines, secrets masked.

Hooks (``hook:`` in a request, ``module:function`` or ``file.py:function`` relative to the
mapping) are called as ``hook(event: str, params: Mapping[str, Any], values: Mapping[str,
Any]) -> Mapping[str, Any]`` before the request (their answer adds values for its
templates); an observation hook as ``hook(body: Any) -> str`` (the machine's state).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from authspec.model.errors import AuthspecError
from authspec.model.ir import System

from .adapter import Observation, Response
from .http_mapping import HttpMapping, RequestSpec, StateSpec, key_of, load_mapping

MASK = "••••••"
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HttpFault(AuthspecError):
    """The service failed to answer as declared (a backend error, never a refusal)."""


class _Omit:
    def __repr__(self) -> str:
        return "{omit}"


OMIT: Any = _Omit()


# ---------------------------------------------------------------------- templates


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _lookup(name: str, scope: Mapping[str, Any], where: str) -> Any:
    if name == "omit":
        return OMIT
    if name not in scope:
        known = ", ".join(sorted(scope)) or "none"
        raise HttpFault(f"{where}: no value named {{{name}}}; define it under values:, "
                        f"captured: or fresh:, capture it, or use a parameter (known: {known})")
    return scope[name]


def render_text(text: str, scope: Mapping[str, Any], where: str, *,
                quoted: bool = False) -> Any:
    """A string template: the value itself if it is exactly ``{name}`` (and not quoted),
    else the text with each placeholder replaced (URL-quoted if ``quoted``)."""
    whole = PLACEHOLDER.fullmatch(text)
    if whole and whole.group(1) and not quoted:
        return _lookup(whole.group(1), scope, where)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)[0]
        value = _lookup(match.group(1), scope, where)
        if value is OMIT:
            raise HttpFault(f"{where}: {{omit}} (or a value that is omitted) inside "
                            f"{text!r}: it can only stand alone")
        return quote(_text(value), safe="") if quoted else _text(value)

    return PLACEHOLDER.sub(replace, text)


def render(template: Any, scope: Mapping[str, Any], where: str) -> Any:
    """A JSON template with every placeholder substituted (``OMIT`` entries dropped)."""
    if isinstance(template, str):
        return render_text(template, scope, where)
    if isinstance(template, dict):
        out = {str(k): render(v, scope, where) for k, v in template.items()}
        return {k: v for k, v in out.items() if v is not OMIT}
    if isinstance(template, list):
        return [v for v in (render(t, scope, where) for t in template) if v is not OMIT]
    return template


def _names(template: Any) -> set[str]:
    if isinstance(template, str):
        return {m.group(1) for m in PLACEHOLDER.finditer(template) if m.group(1)}
    if isinstance(template, dict):
        return {n for v in template.values() for n in _names(v)}
    if isinstance(template, list):
        return {n for v in template for n in _names(v)}
    return set()


def placeholders(spec: RequestSpec) -> frozenset[str]:
    """The names a request's templates use (its cases are rendered only if used)."""
    return frozenset(_names([spec.path, dict(spec.query), dict(spec.headers), spec.body]))


def pointer_get(document: Any, pointer: str) -> tuple[bool, Any]:
    """(found, value) at a JSON pointer (RFC 6901) of ``document``."""
    if pointer == "":
        return True, document
    value = document
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


# ---------------------------------------------------------------------- exchanges and curl


@dataclass(frozen=True)
class Exchange:
    """One request as sent (secrets in clear: mask with ``curl_line``)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None
    secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    status: int | None = None

    def __repr__(self) -> str:
        return f"Exchange({self.method} {mask(self.url, self.secrets)} -> {self.status})"


def mask(text: str, hidden: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``••••••``."""
    for secret in sorted(set(hidden), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def curl_line(exchange: Exchange, *, show_secrets: bool = False) -> str:
    """The request as a curl command line (secrets masked unless ``show_secrets``)."""
    parts = ["curl", "-X", exchange.method, exchange.url]
    for name, value in exchange.headers:
        parts += ["-H", f"{name}: {value}"]
    if exchange.body is not None:
        parts += ["--data-raw", exchange.body]
    if not show_secrets:
        parts = [mask(part, exchange.secrets) for part in parts]
    return shlex.join(parts)


def curl_lines(groups: Sequence[tuple[Any, int]], *, show_secrets: bool = False) -> list[str]:
    """Per step of a trace that went over HTTP (steps grouped as ``console.group_steps``
    does: a run of identical steps shows its first step's requests once): a ``# step``
    comment and one curl command line per request."""
    lines: list[str] = []
    for step, count in groups:
        exchanges = [] if step.actual is None else list(step.actual.requests)
        exchanges = [e for e in exchanges if isinstance(e, Exchange)]
        if not exchanges:
            continue
        last = step.index + count - 1
        span = f"step {step.index}" if count == 1 else f"steps {step.index}-{last} (each)"
        lines.append(f"# {span}: {step.event}")
        lines.extend(curl_line(e, show_secrets=show_secrets) for e in exchanges)
    return lines


# ---------------------------------------------------------------------- the adapter


def _secret_forms(value: Any) -> list[str]:
    """The ways a secret value may appear in a request: as is, JSON-escaped, URL-quoted."""
    if isinstance(value, dict):
        return [f for v in value.values() for f in _secret_forms(v)]
    if isinstance(value, list):
        return [f for v in value for f in _secret_forms(v)]
    if value is None or isinstance(value, bool) or value is OMIT:
        return []
    text = _text(value)
    return [text, _dumps(text)[1:-1], quote(text, safe="")] if text else []


class HttpAdapter:
    """The harness's view of a service through a mapping file (see the module docstring)."""

    def __init__(self, mapping: HttpMapping, system: System, base_url: str) -> None:
        self.mapping = mapping
        self.system = system
        self.base_url = base_url.rstrip("/")
        limits = httpx.Limits(max_keepalive_connections=None if mapping.keep_alive else 0)
        self.client = httpx.Client(timeout=httpx.Timeout(mapping.timeout),
                                   follow_redirects=False, limits=limits)
        self._secret_params = {e.name: {p.name for p in e.params if p.secret}
                               for e in system.events}
        self._declared = {r.code for r in system.reasons}
        self._fresh: dict[str, str] = {}
        self._captured: dict[str, dict[str, Any]] = {}
        self._sent: list[Exchange] = []
        self._used: dict[int, frozenset[str]] = {}  # id(request) -> names it uses

    # -- protocol --------------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh values (a new customer), captures forgotten, the reset requests sent."""
        self._fresh = {name: prefix + "".join(secrets.choice("0123456789") for _ in range(n))
                       for name, (prefix, n) in self.mapping.fresh.items()}
        self._captured = {}
        for spec in self.mapping.reset:
            scope = self._scope(spec, "reset", {})
            response, exchange = self._send(spec, scope, "reset")
            expected = spec.expect or self.mapping.accepted
            if response.status_code not in expected:
                raise HttpFault(f"reset: {self._show(exchange)} answered "
                                f"{response.status_code} ({_excerpt(response)}), not one of "
                                f"{sorted(expected)}: enable the service's reset, or drop "
                                f"reset: and use fresh: values ({spec.where})")

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        """Send the event's requests in order; the first deciding refusal is the answer."""
        self._sent = []
        for spec in self.mapping.events[event]:
            if not spec.applies(params):
                continue
            scope = self._scope(spec, event, params)
            response, exchange = self._send(spec, scope, event)
            refusal = self._refusal(spec, response, exchange)
            if refusal is None:
                self._capture(spec, response, exchange)
            elif spec.decides:
                return dataclasses.replace(refusal, requests=tuple(self._sent))
        return Response(True, requests=tuple(self._sent))

    def observe(self) -> Observation | None:
        """The states and variables the observation request tells (None without one)."""
        spec = self.mapping.observe
        if spec is None:
            return None
        request = spec.request
        response, exchange = self._send(request, self._scope(request, "observe", {}), "observe")
        if response.status_code not in self.mapping.accepted:
            raise HttpFault(f"observe: {self._show(exchange)} answered "
                            f"{response.status_code} ({_excerpt(response)}) ({request.where})")
        body = self._json(response, exchange, "observe")
        states = {machine: self._state(machine, entry, body, exchange)
                  for machine, entry in spec.states.items()}
        variables = {}
        for name, pointer in spec.variables.items():
            found, value = pointer_get(body, pointer)
            if not found:
                raise HttpFault(f"observe: the answer to {self._show(exchange)} has no "
                                f"{pointer} (variable {name}): not the declared shape")
            if value is not None:
                variables[name] = value
        return Observation(states=states, variables=variables)

    def close(self) -> None:
        self.client.close()

    # -- values ----------------------------------------------------------------------------
    def _customer_values(self) -> dict[str, Any]:
        """The captured values of the current customer (their reset values at first)."""
        base = {**self.mapping.values, **self._fresh}
        customer = key_of(base.get("customer", ""))
        if customer not in self._captured:
            self._captured[customer] = {
                name: render(value, base, f"{self.mapping.file}: captured.{name}")
                for name, value in self.mapping.captured.items()}
        return self._captured[customer]

    def _scope(self, spec: RequestSpec, event: str, params: Mapping[str, Any]) -> dict[str, Any]:
        base = {**self.mapping.values, **self._fresh, **self._customer_values(), **params}
        for name, rule in spec.derive.items():
            base[name] = _derive(rule, base, f"{spec}: derive.{name}")
        scope = dict(base)
        used = self._used.get(id(spec))
        if used is None:
            used = self._used[id(spec)] = placeholders(spec)
        for name, table in {**self.mapping.cases, **spec.cases}.items():
            if name not in params or name not in used:
                continue
            key = key_of(params[name])
            if key not in table:
                raise HttpFault(f"{spec}: no case for {name}={key} under cases.{name}: add "
                                f"'{key}: <the value to send>' to the mapping")
            scope[name] = render(table[key], base, f"{spec}: cases.{name}.{key}")
        if spec.hook is not None:
            extra = spec.hook(event, dict(params), dict(scope))
            if not isinstance(extra, Mapping):
                raise HttpFault(f"{spec}: the hook answered {type(extra).__name__}, not a "
                                "mapping of values")
            scope.update(extra)
        return scope

    def _hidden(self, event: str, scope: Mapping[str, Any]) -> tuple[str, ...]:
        names = self._secret_params.get(event, set()) | self.mapping.secrets
        return tuple(f for name in names if name in scope for f in _secret_forms(scope[name]))

    # -- requests --------------------------------------------------------------------------
    def _send(self, spec: RequestSpec, scope: Mapping[str, Any],
              event: str) -> tuple[httpx.Response, Exchange]:
        where = str(spec)
        url = self.base_url + str(render_text(spec.path, scope, where, quoted=True))
        query = {k: _text(v) for k, v in render(dict(spec.query), scope, where).items()}
        headers = {k: _text(v) for k, v in render(dict(spec.headers), scope, where).items()}
        if any("\r" in v or "\n" in v for v in headers.values()):
            raise HttpFault(f"{where}: a header value holds a line break")
        content = None
        if spec.has_body:
            content = _dumps(render(spec.body, scope, where))
            headers.setdefault("Content-Type", "application/json")
        request = self.client.build_request(spec.method, url, params=query or None,
                                            headers=headers, content=content)
        exchange = Exchange(spec.method, str(request.url), tuple(headers.items()), content,
                            self._hidden(event, scope))
        try:
            response = self.client.send(request)
        except httpx.TimeoutException:
            raise HttpFault(f"{where}: {self._show(exchange)}: no answer within "
                            f"{self.mapping.timeout:g} s (timeout: in the mapping)") from None
        except httpx.HTTPError as error:
            raise HttpFault(f"{where}: {self._show(exchange)}: {type(error).__name__}: "
                            f"{mask(str(error), exchange.secrets)}; is the service running "
                            f"at {self.base_url}? (--base-url)") from None
        exchange = dataclasses.replace(exchange, status=response.status_code)
        self._sent.append(exchange)
        return response, exchange

    def _show(self, exchange: Exchange) -> str:
        return f"{exchange.method} {mask(exchange.url, exchange.secrets)}"

    def _json(self, response: httpx.Response, exchange: Exchange, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise HttpFault(f"{what}: the answer to {self._show(exchange)} (status "
                            f"{response.status_code}) is not JSON: {_excerpt(response)}"
                            ) from None

    def _refusal(self, spec: RequestSpec, response: httpx.Response,
                 exchange: Exchange) -> Response | None:
        """None when accepted; the refusal otherwise (a preparatory request's is not
        read: any one will do); ``HttpFault`` for what is neither."""
        status = response.status_code
        if status >= 500:
            raise HttpFault(f"{spec}: {self._show(exchange)} answered {status}, a server "
                            f"error: {_excerpt(response)}")
        if status in self.mapping.accepted:
            return None
        if not spec.decides:
            return Response.rejected(f"status {status}")
        code = self._code(response)
        if code is None:
            raise HttpFault(f"{spec}: {self._show(exchange)} answered {status} with no code "
                            f"at {self.mapping.code_pointer} ({_excerpt(response)}): not the "
                            f"declared shape; declare response.without_body: {{{status}: "
                            "<code>}} if that status has no body")
        if code in self.mapping.codes.table:
            return Response(False, code, stands_for=self.mapping.codes.table[code])
        if code in self._declared:
            return Response.rejected(code)
        raise HttpFault(f"{spec}: {self._show(exchange)} answered {status} with the code "
                        f"{code!r}, which is neither mapped under codes: in "
                        f"{self.mapping.file} nor a reason of the spec: map it, or fix the "
                        f"request ({_excerpt(response)})")

    def _code(self, response: httpx.Response) -> str | None:
        try:
            body = response.json()
        except ValueError:
            body = None
        found, code = pointer_get(body, self.mapping.code_pointer)
        if found and isinstance(code, str) and code:
            return code
        return self.mapping.without_body.get(response.status_code)

    def _capture(self, spec: RequestSpec, response: httpx.Response,
                 exchange: Exchange) -> None:
        captured = self._customer_values()
        for name in spec.forget:
            captured[name] = self.mapping.captured.get(name)
        if not spec.capture:
            return
        body = self._json(response, exchange, str(spec))
        for name, pointer in spec.capture.items():
            found, value = pointer_get(body, pointer)
            if not found:
                raise HttpFault(f"{spec}: the answer to {self._show(exchange)} has no "
                                f"{pointer} (capture {name}): not the declared shape")
            captured[name] = value

    def _state(self, machine: str, entry: StateSpec, body: Any, exchange: Exchange) -> str:
        if entry.hook is not None:
            return str(entry.hook(body))
        found, value = pointer_get(body, entry.pointer)
        key = key_of(value)
        if not found or key not in entry.values:
            raise HttpFault(f"observe: states.{machine}: the answer to {self._show(exchange)} "
                            f"has {key if found else 'nothing'} at {entry.pointer}, which "
                            "names no state in its values: table; add it")
        return str(entry.values[key])


def _derive(rule: Mapping[str, str], scope: Mapping[str, Any], where: str) -> Any:
    """``pick`` a table's entries at the keys ``at`` lists, concatenated (else ``default``)."""
    table, keys = scope.get(rule["pick"]), scope.get(rule["at"])
    if isinstance(table, dict) and isinstance(keys, list) and all(
            isinstance(k, str) and k in table for k in keys):
        return "".join(_text(table[k]) for k in keys)
    if "default" in rule:
        return rule["default"]
    raise HttpFault(f"{where}: {rule['pick']} is not a table holding every key of "
                    f"{rule['at']}; give derive a default:")


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return (text[:limit] + "...") if len(text) > limit else (text or "no body")


def make_adapter(mapping: str | Path | None = None, base_url: str | None = None, *,
                 system: System | None = None, specs: str | None = None) -> HttpAdapter:
    """Factory of ``--backend http``: the mapping file, and the base URL (else the mapping's)."""
    if mapping is None:
        raise HttpFault("--backend http needs --mapping FILE (examples/http/reference-bank.yaml "
                        "is an example)")
    if system is None:
        from authspec.model import load

        system = load(specs)
    loaded = load_mapping(mapping, system)
    url = base_url or loaded.base_url
    if not url:
        raise HttpFault(f"no base URL: give --base-url URL or base_url: in {mapping}")
    return HttpAdapter(loaded, system, url)
