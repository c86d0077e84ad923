"""Type checks of a backend's answers: what ``Backend`` accepts from an adapter.

Every answer is checked before the harness compares it with the model, so that a
malformed answer is a *backend error* naming what is wrong, never a nonconformance, a
false pass or a traceback:

* ``perform`` answers a ``Response`` whose ``accepted`` is a bool and whose ``reason`` is
  ``None`` (accepted) or one of the reason codes the spec declares (rejected);
* ``observe`` answers ``None`` or an ``Observation`` whose ``states`` map machine names of
  the spec to states that machine declares, and whose ``variables`` map declared
  ``machine.variable`` names to values of the declared type (``int``, ``bool``, ``str``;
  an enumeration's value is a str).

Each function returns the problem as a sentence, or ``None`` when the answer is well formed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from authspec.model.ir import System, Type

from .adapter import Observation, Response

#: how many declared names an error lists at most
MAX_LISTED = 12


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f", ... ({len(names)} in all)" if len(names) > MAX_LISTED else "")


def _shown(value: Any) -> str:
    """A value's repr, cut short: an answer may be huge."""
    try:
        text = repr(value)
    except Exception as error:  # a repr that raises is garbage too
        text = f"<unprintable: {type(error).__name__}>"
    return text if len(text) <= 200 else text[:200] + "..."


def response_problem(answer: Any, reasons: tuple[str, ...] | None,
                     mapped: Collection[str] = ()) -> str | None:
    """What is wrong with ``perform``'s answer, or None. ``mapped``: the backend's own codes
    that a codes file translates (codes.py); an answer that already says which spec reasons
    it stands for (an HTTP mapping's codes) is not checked against ``reasons``, and with
    ``reasons`` None (``--compare outcome``) no code is."""
    if not isinstance(answer, Response):
        return f"answered {_shown(answer)} ({type(answer).__name__}), not a Response"
    accepted, reason = answer.accepted, answer.reason
    if not isinstance(accepted, bool):
        return (f"answered a Response whose accepted is {_shown(accepted)} "
                f"({type(accepted).__name__}), not True or False")
    if accepted:
        if reason is not None:
            return f"answered accepted with a reason code ({_shown(reason)})"
        return None
    if not isinstance(reason, str) or not reason:
        return (f"answered rejected with the reason {_shown(reason)}, not one of the reason "
                f"codes the spec declares ({_listed(list(reasons or ()))})")
    if reasons is None:
        return None
    if reason not in reasons and reason not in mapped and not answer.stands_for:
        return (f"answered rejected({_shown(reason)}): a reason code the spec does not "
                f"declare (declared: {_listed(list(reasons))})")
    return None


def observation_problem(answer: Any, system: System) -> str | None:
    """What is wrong with ``observe``'s answer, or None."""
    if answer is None:
        return None
    if not isinstance(answer, Observation):
        return (f"answered {_shown(answer)} ({type(answer).__name__}), not an Observation "
                "or None")
    return _states_problem(answer.states, system) or _variables_problem(answer.variables,
                                                                         system)


def _states_problem(states: Any, system: System) -> str | None:
    if not isinstance(states, Mapping):
        return (f"answered an Observation whose states are {_shown(states)} "
                f"({type(states).__name__}), not a mapping of machine to state")
    machines = _machines(system)
    for machine, state in states.items():
        if not isinstance(machine, str) or machine not in machines:
            return (f"observed the state of {_shown(machine)}: no machine of that name in "
                    f"the spec (machines: {_listed(list(machines))})")
        if not isinstance(state, str) or state not in machines[machine]:
            return (f"observed {machine} in {_shown(state)}: not a state of {machine} "
                    f"(states: {_listed(machines[machine])})")
    return None


def _variables_problem(variables: Any, system: System) -> str | None:
    if not isinstance(variables, Mapping):
        return (f"answered an Observation whose variables are {_shown(variables)} "
                f"({type(variables).__name__}), not a mapping of machine.variable to value")
    declared = _declared(system)
    for name, value in variables.items():
        if not isinstance(name, str) or name not in declared:
            return (f"observed a variable named {_shown(name)}: no variable of that name in "
                    f"the spec (variables are named machine.variable: "
                    f"{_listed(list(declared))})")
        if not _of_type(value, declared[name]):
            return (f"observed {name} = {_shown(value)} ({type(value).__name__}), not of "
                    f"its declared type {declared[name].name}")
    return None


@cache
def _machines(system: System) -> dict[str, list[str]]:
    return {m.name: [s.name for s in m.states] for m in system.machines}


@cache
def _declared(system: System) -> dict[str, Type]:
    return {v.qualified: v.type for v in system.variables}


def _of_type(value: Any, type_: Type) -> bool:
    """Whether ``value`` has the Python type of the spec's ``type_`` (its range is not
    checked here: a value out of range is a difference from the model)."""
    if type_.kind == "bool":
        return isinstance(value, bool)
    if type_.kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)
