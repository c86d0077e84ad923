"""A small account service with lock-out, written by hand from the policy (rules.yaml).

It knows nothing of authspec: it is the kind of code a team would write, tested against the
spec in specs/ through adapter.py. One account; three wrong passwords in a row lock it (the
third wrong password is refused and locks it); a successful login resets the count; an
administrator's unlock reopens it and resets the count. ``Mistakes`` plants the bugs the
mutants of adapter.py are made of.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PASSWORD = re.compile(r"(?=.*[0-9])(?=.*[A-Za-z])[0-9A-Za-z]{8,20}")


class Refused(Exception):
    """The service refused a request; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Mistakes:
    """Bugs to plant (all off: the correct service)."""

    lock_after: int = 3  # wrong passwords in a row that lock the account
    success_resets: bool = True
    unlock_resets: bool = True


class AccountService:
    def __init__(self, mistakes: Mistakes = Mistakes()):
        self.mistakes = mistakes
        self.password: str | None = None
        self.failures = 0
        self.locked = False

    def create(self, password: str) -> None:
        if self.password is not None:
            raise Refused("account_exists")
        if not PASSWORD.fullmatch(password):
            raise Refused("weak_password")
        self.password = password

    def _existing(self) -> str:
        if self.password is None:
            raise Refused("no_account")
        return self.password

    def login(self, password: str) -> None:
        current = self._existing()
        if self.locked:
            raise Refused("account_locked")
        if password != current:
            self.failures += 1
            if self.failures >= self.mistakes.lock_after:
                self.locked = True
            raise Refused("wrong_password")
        if self.mistakes.success_resets:
            self.failures = 0

    def unlock(self) -> None:
        self._existing()
        if not self.locked:
            raise Refused("not_locked")
        self.locked = False
        if self.mistakes.unlock_resets:
            self.failures = 0

    def change_password(self, old: str, new: str) -> None:
        current = self._existing()
        if self.locked:
            raise Refused("account_locked")
        if old != current:
            raise Refused("wrong_password")
        if not PASSWORD.fullmatch(new):
            raise Refused("weak_password")
        self.password = new
