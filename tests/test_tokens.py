"""Tokens with identity: a spec says which token an event uses (``issued_by``), the harness
draws the latest and an old one, and an adapter maps the index to the concrete token
(harness/tokens.py). The fault a user could not test before, an old token accepted after a
new one was requested, is killed (tests/token_specs/)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from authspec.harness.options import CheckOptions
from authspec.harness.run import check
from authspec.harness.tokens import TokenBook, TokenError
from authspec.model.errors import SpecErrors
from authspec.model.loader import load

HERE = Path(__file__).parent / "token_specs"
RESET = HERE / "reset"
ADAPTER = HERE / "adapter.py"
TWO = Path(__file__).resolve().parent.parent / "examples" / "two_customers"


def test_the_parameter_says_which_event_issues_its_tokens():
    system = load(RESET)
    token = system.event("reset_password").param("token")
    assert token is not None and token.issued_by == "request_reset"
    assert token.type.kind == "int" and (token.type.min, token.type.max) == (0, 2)
    # every other parameter, and every shipped spec, is a value as before
    assert all(not p.issued_by for e in load(TWO).events for p in e.params)


@pytest.mark.parametrize(("declared", "message"), [
    ("{type: int, min: 0, max: 2, issued_by: request_rest}",
     r"system\.yaml:\d+:\d+: error: unknown event 'request_rest'.*request_reset"),
    ("{type: str, issued_by: request_reset}",
     r"system\.yaml:\d+:\d+: error: issued_by applies to an int parameter with min: 0"),
    ("{type: int, min: 1, max: 2, issued_by: request_reset}",
     r"error: issued_by applies to an int parameter with min: 0"),
])
def test_a_wrong_issued_by_says_where_and_what_to_do(tmp_path, declared, message):
    folder = tmp_path / "reset"
    shutil.copytree(RESET, folder)
    system_file = folder / "system.yaml"
    text = system_file.read_text(encoding="utf-8")
    system_file.write_text(text.replace(
        "{type: int, min: 0, max: 2, issued_by: request_reset}", declared), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load(folder)
    assert any(re.search(message, e.format(), flags=re.S)
               for e in caught.value.errors), [e.format() for e in caught.value.errors]


def test_the_book_maps_an_index_to_the_token_of_the_acting_instance():
    two = load(TWO)
    book = TokenBook(two, never_issued=lambda: None)
    for token in ("a1", "a2"):
        book.issued("register", {"customer": "alice"}, token)
    book.issued("register", {"customer": "bob"}, "b1")
    alice, bob = {"customer": "alice"}, {"customer": "bob"}
    assert [book.token("register", alice, k) for k in range(3)] == ["a2", "a1", None]
    assert [book.token("register", bob, k) for k in range(2)] == ["b1", None]
    with pytest.raises(TokenError, match="no event 'nope'"):
        book.issued("nope", alice, "x")
    book.clear()
    assert book.token("register", alice, 0) is None


def test_concrete_replaces_only_token_parameters():
    book = TokenBook(load(RESET), never_issued=lambda: "never")
    assert book.concrete("reset_password", {"token": 0}) == {"token": "never"}
    book.issued("request_reset", {}, "t1")
    book.issued("request_reset", {}, "t2")
    assert [book.concrete("reset_password", {"token": k})["token"] for k in range(3)] == [
        "t2", "t1", "never"]
    assert book.concrete("request_reset", {}) == {}


def _check(factory: str) -> object:
    return check(CheckOptions(backend=f"{ADAPTER}:{factory}", specs=str(RESET), seed=0,
                              database=None, out=None, max_seconds=10))


def test_the_service_conforms_and_an_old_token_accepted_is_killed():
    assert _check("make_adapter").status == "pass"
    result = _check("make_old_token_accepted")
    assert result.status == "fail"
    steps = result.failure.steps
    assert [s.event for s in steps] == ["request_reset", "request_reset", "reset_password"]
    assert steps[-1].params == {"token": 1}  # the older of two tokens
