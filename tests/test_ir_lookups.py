"""Look-ups of names a system does not declare raise one located, listed error."""

from __future__ import annotations

import pytest

from authspec.model import load
from authspec.model.errors import AuthspecError, UnknownName


@pytest.mark.parametrize("kind", ["machine", "event", "policy", "reason"])
def test_an_unknown_name_is_an_authspec_error_listing_the_known_ones(kind: str) -> None:
    system = load("examples/lockout/specs")
    with pytest.raises(UnknownName) as caught:
        getattr(system, kind)("no_such_thing")
    error = caught.value
    assert isinstance(error, AuthspecError) and isinstance(error, KeyError)
    assert str(error).startswith(f"no {kind} named 'no_such_thing' (known: ")
    assert error.known == tuple(sorted(error.known))
