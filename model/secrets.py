"""How a secret value is shown: the one module that decides it.

A parameter or variable declared ``secret: true`` (a password) is never printed or written in
clear, unless the user asks with ``--show-secrets``. Three forms, each where it serves:

``masked(value)`` gives ``<secret:6>``
    The simulator (``authspec simulate``, text and JSON) and ``Event.redacted``. The length
    stays visible: a reviewer following a hand-written trace checks it against the length
    policies (6-30 characters), and the trace's author chose the value anyway.
``bulleted(hint)`` gives ``••••••⟨6 chars, fits counter_password, = login_password.current⟩``
    The conformance check's console report, ``failure.json`` and the pytest plugin. The
    values were generated, so the reader needs what each one *is*: its length, the policies
    it fits, the variable it equals (``hint`` builds that text from its parts, ``relation``
    names one such part).
``DRAWN``, that is ``•••``
    Diagrams, the HTML review report and the spec diff: a string literal next to a secret in a
    drawn guard or effect, a secret variable's initial value, a secret parameter of a drawn
    trace step. Drawings have no room for a hint, and a literal's length is itself a clue
    there, so nothing about the value is kept.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

BULLETS = "\u2022" * 6  # the conformance check's mask, followed by a hint in ⟨ ⟩
DRAWN = "\u2022" * 3  # the mask in drawings, the review report and the spec diff


def masked(value: Any) -> str:
    """A secret as the simulator shows it: its length, never its characters."""
    return f"<secret:{len(value)}>" if isinstance(value, str) else "<secret>"


def bulleted(hint: str = "") -> str:
    """A secret as the conformance check shows it: the bullets, then what the value is."""
    return f"{BULLETS}\u27e8{hint}\u27e9" if hint else BULLETS


def hint(length: int, fits: Iterable[str], relations: Iterable[str] = ()) -> str:
    """What a secret string is, from its parts: its length, the policies it fits, and its
    relations to the variables (see ``relation``), e.g. ``6 chars, fits login, = m.current``."""
    fitting = "/".join(fits)
    parts = [f"{length} chars", f"fits {fitting}" if fitting else "fits no policy", *relations]
    return ", ".join(parts)


def relation(value: str, variable: str, current: str, earlier: Collection[str] = ()) -> str | None:
    """How a secret ``value`` relates to ``variable`` (holding ``current`` and, before that,
    the values ``earlier``): equal, equal but for letter case, or an earlier value; None when
    there is none, or when the variable is empty (not set yet)."""
    if not current:
        return None
    if value == current:
        return f"= {variable}"
    if value.swapcase() == current:
        return f"= {variable} case-swapped"
    if value in earlier:
        return f"= an earlier {variable}"
    return None
