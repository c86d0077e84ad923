"""The forms in which secrets are shown (model/secrets.py)."""

from __future__ import annotations

import pytest

from authspec.model.ir import STR, Event, Param
from authspec.model.secrets import BULLETS, DRAWN, bulleted, hint, masked, relation


def test_masked_keeps_only_the_length() -> None:
    assert masked("246810") == "<secret:6>"
    assert masked("") == "<secret:0>"
    assert masked(None) == "<secret>"


def test_event_redacted_masks_only_the_secret_parameters() -> None:
    event = Event("login", (Param("user", STR), Param("password", STR, secret=True)))
    assert event.redacted({"user": "li", "password": "s3cret"}) == {
        "user": "li", "password": "<secret:6>"}


def test_bullets_and_the_drawn_mask() -> None:
    assert BULLETS == "••••••" and DRAWN == "•••"
    assert bulleted() == BULLETS
    assert bulleted("6 chars, fits login") == "••••••⟨6 chars, fits login⟩"


def test_hint_from_its_parts() -> None:
    assert hint(6, ["login", "counter"], ["= m.current"]) == (
        "6 chars, fits login/counter, = m.current")
    assert hint(31, []) == "31 chars, fits no policy"


@pytest.mark.parametrize(("value", "current", "earlier", "expected"), [
    ("abc123", "abc123", (), "= m.current"),
    ("ABC123", "abc123", (), "= m.current case-swapped"),
    ("old111", "new222", ("old111",), "= an earlier m.current"),
    ("other1", "new222", ("old111",), None),
    ("abc123", "", ("abc123",), None),  # an empty variable is not set yet: no relation
])
def test_relation(value: str, current: str, earlier: tuple[str, ...], expected: str | None) -> None:
    assert relation(value, "m.current", current, earlier) == expected
