"""Faults of an HTTP backend are backend errors with the step that caused them.

A tiny Starlette application of this file's own (served by uvicorn on a free loopback port)
answers the tiny spec's events (tests/harness_specs/tiny) well or badly, path by path; a
real closed port stands for a service that is not running. Each fault must end the check
with status ``error`` (exit 2 on the command line), never a pass or a nonconformance, and
name the step and the request. Also here: the mapping's located errors and the curl lines.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from authspec.bank.service import loopback_socket, server_for, url_of
from authspec.harness import commands
from authspec.harness.http_adapter import Exchange, curl_line, make_adapter, render, render_text
from authspec.harness.http_mapping import load_mapping
from authspec.harness.options import CheckOptions
from authspec.harness.run import check
from authspec.model import load
from authspec.model.errors import SpecErrors

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")


async def ok(request: Request) -> Response:
    return Response(status_code=204)


async def boom(request: Request) -> Response:
    return JSONResponse({"error": {"code": "internal", "message": "it broke"}}, 500)


async def html(request: Request) -> Response:
    return PlainTextResponse("<h1>Bad request</h1>", 400)


async def unheard(request: Request) -> Response:
    return JSONResponse({"error": {"code": "unheard_of", "message": "?"}}, 409)


async def slow(request: Request) -> Response:
    await asyncio.sleep(3)
    return Response(status_code=204)


async def no_token(request: Request) -> Response:
    return JSONResponse({"session": "no token here"}, 201)


async def echo(request: Request) -> Response:
    return JSONResponse(await request.json(), 201)


APP = Starlette(routes=[Route(f"/{f.__name__}", f, methods=["POST"])
                        for f in (ok, boom, html, unheard, slow, no_token, echo)])


@pytest.fixture(scope="module")
def tiny_service() -> Iterator[str]:
    sock = loopback_socket()
    server = server_for(APP)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield url_of(sock)
    server.should_exit = True
    thread.join(10)
    sock.close()


def mapping(tmp_path: Path, path: str, *, extra: str = "", capture: str = "") -> Path:
    """A mapping of the tiny spec sending every event to ``path``."""
    file = tmp_path / "tiny.yaml"
    events = "".join(f"""\
  {event}:
    - method: POST
      path: {path}
      body: {{{param}: "{{{param}}}"}}
{capture}
""" for event, param in (("issue", "pin"), ("use", "pin"), ("spend", "amount")))
    file.write_text(f"authspec-http: 1\ntimeout: 0.5\n{extra}\nevents:\n{events}",
                    encoding="utf-8")
    return file


def run_with(file: Path, url: str, tmp_path: Path) -> Any:
    return check(CheckOptions(backend="http", specs=TINY, mapping=str(file), base_url=url,
                              seed=1, database=None, out=str(tmp_path / "out"),
                              examples=5, steps=10, max_seconds=10, timeout=5))


def assert_fault_at_a_step(result: Any, *words: str) -> str:
    assert result.status == "error", (result.status, result.failure)
    assert result.exit_code == 2
    assert result.error is not None and result.error_steps
    last = result.error_steps[-1]
    assert result.error.call == f"perform({last.event})"
    assert last.actual is None  # the step that caused it, unanswered
    detail = result.error.detail
    assert f"events.{last.event}[1]" in detail, detail
    for word in words:
        assert word in detail, detail
    return str(detail)


def test_connection_refused_on_a_closed_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_with(mapping(tmp_path, "/ok"), f"http://127.0.0.1:{port}", tmp_path)
    assert_fault_at_a_step(result, "ConnectError",
                           f"is the service running at http://127.0.0.1:{port}?")


@pytest.mark.parametrize(("path", "words"), [
    ("/boom", ("/boom answered 500, a server error", "it broke")),
    ("/html", ("answered 400 with no code at /error/code", "<h1>Bad request</h1>",
               "response.without_body")),
    ("/unheard", ("the code 'unheard_of'", "neither mapped under codes:",
                  "nor a reason of the spec")),
    ("/slow", ("no answer within 0.5 s",)),
])
def test_faults_are_backend_errors_with_their_step(tiny_service: str, tmp_path: Path,
                                                   path: str, words: tuple[str, ...]) -> None:
    result = run_with(mapping(tmp_path, path), tiny_service, tmp_path)
    assert_fault_at_a_step(result, f"POST {tiny_service}{path}", *words)


def test_an_answer_without_the_captured_value_is_a_fault(tiny_service: str,
                                                         tmp_path: Path) -> None:
    file = mapping(tmp_path, "/no_token", capture="      capture: {token: /token}")
    result = run_with(file, tiny_service, tmp_path)
    assert_fault_at_a_step(result, "has no /token (capture token): not the declared shape")


def test_a_refusal_code_mapped_in_the_file_is_not_a_fault(tiny_service: str,
                                                          tmp_path: Path) -> None:
    file = mapping(tmp_path, "/unheard", extra="codes: {unheard_of: [already_issued, weak_pin]}")
    result = run_with(file, tiny_service, tmp_path)
    assert result.status == "fail"  # a nonconformance now: every event is refused
    assert result.failure is not None
    assert "(standing for already_issued, weak_pin)" in result.failure.detail


def test_mapping_errors_are_located(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("""\
authspec-http: 1
colour: blue
codes: {mine: [no_such_reason]}
events:
  issue:
    - method: POST
      path: /ok
      when: {nope: 1}
  fly:
    - {method: POST, path: /ok}
""", encoding="utf-8")
    system = load(TINY)
    with pytest.raises(SpecErrors) as schema_errors:
        load_mapping(file, system)
    assert f"{file}:2:1: error: unknown key 'colour' in the top level" in str(schema_errors.value)
    file.write_text(file.read_text().replace("colour: blue\n", ""), encoding="utf-8")
    with pytest.raises(SpecErrors) as errors:
        load_mapping(file, system)
    text = str(errors.value)
    assert f"{file}:2:16: error: code 'mine' maps to 'no_such_reason'" in text, text
    assert f"{file}:7:14: error: events.issue[1]: when: 'nope' is not a parameter" in text
    assert f"{file}:8:3: error: events: 'fly' is not an event of the spec" in text
    assert "events: no requests for use, spend" in text


def test_templates_substitute_and_never_evaluate() -> None:
    scope = {"n": 5, "flag": True, "name": "a b/c", "doc": {"k": [1]}}
    assert render({"n": "{n}", "f": "{flag}", "d": "{doc}", "gone": "{omit}"}, scope, "t") == {
        "n": 5, "f": True, "d": {"k": [1]}}
    assert render_text("/x/{name}/{n}", scope, "t", quoted=True) == "/x/a%20b%2Fc/5"
    assert render_text("{{n}} is {n}", scope, "t") == "{n} is 5"
    assert render_text("{__import__}", {"__import__": "x"}, "t") == "x"
    with pytest.raises(Exception, match=r"no value named \{missing\}"):
        render_text("{missing}", scope, "t")


def test_curl_lines_mask_secrets_unless_asked() -> None:
    exchange = Exchange("POST", "http://h/s/tok123", (("Authorization", "Bearer tok123"),),
                        '{"pin": "it\'s s3cret"}', ("tok123", "it's s3cret"))
    masked = curl_line(exchange)
    assert "tok123" not in masked and "s3cret" not in masked
    assert masked.count("••••••") == 3
    clear = curl_line(exchange, show_secrets=True)
    assert "Bearer tok123" in clear and "s3cret" in clear
    assert clear.startswith("curl -X POST http://h/s/tok123 -H 'Authorization: Bearer tok123'")


def test_a_request_hook_adds_values_for_its_templates(tiny_service: str, tmp_path: Path) -> None:
    (tmp_path / "hooks.py").write_text(
        "def shout(event, params, values):\n"
        "    return {'loud': event + ':' + params['pin'].upper()}\n", encoding="utf-8")
    file = mapping(tmp_path, "/echo", capture="      hook: hooks.py:shout\n"
                                              "      capture: {echoed: /pin}")
    file.write_text(file.read_text().replace('{pin: "{pin}"}', '{pin: "{loud}"}'))
    adapter = make_adapter(file, tiny_service, system=load(TINY))
    try:
        adapter.reset()
        answer = adapter.perform("issue", {"pin": "abc123"})
        assert answer.accepted
        assert answer.requests[0].body == '{"pin": "issue:ABC123"}'
        assert adapter._customer_values()["echoed"] == "issue:ABC123"
    finally:
        adapter.close()


def test_the_command_line_refuses_a_bad_or_missing_mapping(tmp_path: Path) -> None:
    app = typer.Typer()
    commands.register(app)
    file = tmp_path / "m.yaml"
    file.write_text("authspec-http: 1\nevents:\n  issue: []\n", encoding="utf-8")
    run = CliRunner().invoke(app, ["check", "--backend", "http", "--specs", TINY, "--mapping",
                                   str(file), "--out", str(tmp_path / "out")])
    assert run.exit_code == 2
    assert f"the mapping does not load:\n{file}:3:10: error: events.issue: [] should be " \
           "non-empty" in run.output
    missing = CliRunner().invoke(app, ["check", "--backend", "http", "--specs", TINY,
                                       "--out", str(tmp_path / "out")])
    assert missing.exit_code == 2 and "--backend http needs --mapping FILE" in missing.output
