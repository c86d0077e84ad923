"""Mutants of the reference bank that break isolation between customers.

Each is correct for a bank with one customer, so a check of the one-customer specs
(``specs/``) cannot tell it from the correct bank; a check of the two-customer specs
(``examples/two_customers``, where every machine exists once per customer) kills it,
because one customer's step changes, or is decided by, what is the other's. They are the
broken object-level authorisation that real systems have:

* ``quota_booked_on_other_customer``: a static-password payment is booked on the quota of
  the most recently registered customer instead of the payer's (Q1, R5);
* ``session_of_other_customer``: an operation is accepted with any customer's open
  session, not the operator's own (R7, R11, Q10);
* ``counter_reset_ends_every_session``: a counter reset of one customer's login password
  ends the sessions of every customer (R19, Q10).

``MUTANTS`` lists them, the mutant set ``isolation`` (``authspec mutants --set isolation``;
``authspec mutants`` without ``--set`` still runs the set ``mutant`` of ``bank/mutants.py``);
``SPECS`` names the specs they belong to, so the command checks them against the
two-customer specs without ``--specs``. One of them is the backend ``isolation:NAME`` (the
family ``isolation`` in ``authspec.backend_families``): ``authspec check -b
isolation:session_of_other_customer --specs examples/two_customers``. Kept apart from
``bank/mutants.py`` so that the two families evolve independently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authspec.bank.adapter import BankAdapter
from authspec.bank.core import Bank, SessionRow
from authspec.bank.mutants import Mutant, _factory

_REGISTRY: list[Mutant] = []


def _isolation(name: str, *rules: str) -> Callable[[type[Bank]], type[Bank]]:
    """Class decorator: register a Bank subclass as an isolation mutant."""

    def register(cls: type[Bank]) -> type[Bank]:
        description = (cls.__doc__ or "").strip().splitlines()[0]
        _REGISTRY.append(Mutant(name, rules, description, _factory(cls), (), cls))
        return cls

    return register


@_isolation("quota_booked_on_other_customer", "Q1", "R5")
class QuotaBookedOnOtherCustomer(Bank):
    """A static payment is booked on the newest customer's quota, not the payer's."""

    def _add_static_spent(self, cust_id: int, amount_fen: int) -> None:
        newest = self._store.scalar("SELECT MAX(customer_id) FROM static_quota")
        super()._add_static_spent(int(newest if newest is not None else cust_id), amount_fen)


@_isolation("session_of_other_customer", "R7", "R11", "Q10")
class SessionOfOtherCustomer(Bank):
    """Any customer's open session is accepted for the operator's operation."""

    def _session_row(self, cust_id: int) -> SessionRow | None:
        own = super()._session_row(cust_id)
        if own is not None:
            return own
        row = self._store.one("SELECT restricted, token FROM sessions ORDER BY customer_id")
        return None if row is None else SessionRow(bool(row["restricted"]), row["token"])


@_isolation("counter_reset_ends_every_session", "R19", "Q10")
class CounterResetEndsEverySession(Bank):
    """A counter reset of one customer's login password ends every customer's session."""

    def _end_session_after_reset(self, cust_id: int) -> None:
        self._store.execute("DELETE FROM sessions")


MUTANTS: tuple[Mutant, ...] = tuple(_REGISTRY)
#: the specs this set belongs to, relative to this file (read by harness/mutation.py)
SPECS = "../examples/two_customers"
_BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS}


def make_isolation_adapter(name: str, path: str | None = None, **options: Any) -> BankAdapter:
    """The adapter over the isolation mutant ``name`` (backend ``isolation:NAME``; options as
    for ``authspec.bank.adapter.make_adapter``)."""
    try:
        chosen = _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown isolation mutant {name!r}; known: {', '.join(_BY_NAME)}"
                       ) from None
    return chosen.factory(path, **options)
