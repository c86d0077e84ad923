"""Password rules and password storage of the reference bank.

Two rules apply (source R18, R20; open question Q6):

* the customer's own passwords (login, and payment per R7): 6-30 characters, only ASCII
  digits and ASCII letters, at least one of each, case-sensitive;
* passwords set at a counter (registration, login-password reset): 6-8 ASCII digits.

Passwords are never stored in clear: each is stored as PBKDF2-HMAC-SHA256 over the UTF-8
bytes of the password with a fresh 16-byte random salt, and compared in constant time with
``hmac.compare_digest``. The iteration count is chosen by the bank's owner: the default is
production strength (600 000, the OWASP 2023 figure for PBKDF2-HMAC-SHA256); tests and the
conformance adapter use a low count so that thousands of operations run per second.

The KDF is slow on purpose (about 0.3 s at production strength), so the bank never runs it
while it holds the database's write lock: inside :meth:`PasswordHasher.precomputed` a
request's hashes and checks are computed first, outside any transaction, and the same
calls made again inside the transaction find their results there (see ``core.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

PRODUCTION_KDF_ITERATIONS = 600_000
TEST_KDF_ITERATIONS = 32
ALGORITHM = "pbkdf2_sha256"
SALT_BYTES = 16

DIGITS = frozenset(string.digits)
LETTERS = frozenset(string.ascii_letters)


@dataclass(frozen=True)
class PasswordRule:
    """A password rule: length range, allowed characters, required character classes."""

    name: str
    min_length: int
    max_length: int
    allowed: frozenset[str]
    require_digit: bool
    require_letter: bool

    def accepts(self, password: str) -> bool:
        """Whether ``password`` follows this rule."""
        if not self.min_length <= len(password) <= self.max_length:
            return False
        if any(ch not in self.allowed for ch in password):
            return False
        if self.require_digit and not any(ch in DIGITS for ch in password):
            return False
        return not (self.require_letter and not any(ch in LETTERS for ch in password))


CUSTOMER_PASSWORD_RULE = PasswordRule(
    name="letters and digits, 6-30",
    min_length=6,
    max_length=30,
    allowed=DIGITS | LETTERS,
    require_digit=True,
    require_letter=True,
)

COUNTER_PASSWORD_RULE = PasswordRule(
    name="digits, 6-8",
    min_length=6,
    max_length=8,
    allowed=DIGITS,
    require_digit=True,
    require_letter=False,
)


@dataclass(frozen=True)
class StoredSecret:
    """A password as the bank stores it: algorithm, work factor, salt and digest."""

    algorithm: str
    iterations: int
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)


@dataclass
class Precomputed:
    """KDF results worked out ahead of a transaction: new hashes and verdicts of checks."""

    hashes: dict[str, list[StoredSecret]] = field(default_factory=dict, repr=False)
    verdicts: dict[tuple[str, int, bytes, bytes, str], bool] = field(
        default_factory=dict, repr=False
    )


_PRECOMPUTED: ContextVar[Precomputed | None] = ContextVar("precomputed_kdf", default=None)


def _verdict_key(stored: StoredSecret, password: str) -> tuple[str, int, bytes, bytes, str]:
    return (stored.algorithm, stored.iterations, stored.salt, stored.digest, password)


class PasswordHasher:
    """Hashes and verifies passwords with PBKDF2-HMAC-SHA256 and a per-password salt.

    A hasher holds no per-request state of its own (what ``precomputed`` stores lives in a
    context variable), so one hasher serves many threads at once.
    """

    def __init__(self, iterations: int = PRODUCTION_KDF_ITERATIONS) -> None:
        if iterations < 1:
            raise ValueError("the KDF needs at least one iteration")
        self.iterations = iterations

    def __repr__(self) -> str:
        return f"{type(self).__name__}(iterations={self.iterations})"

    def encode(self, password: str) -> bytes:
        """The bytes fed to the KDF (passwords are case-sensitive: no folding)."""
        return password.encode("utf-8")

    def hash(self, password: str) -> StoredSecret:
        """A new salted digest of ``password`` (one prepared by ``prepare_hash`` if any)."""
        ready = _PRECOMPUTED.get()
        if ready is not None and ready.hashes.get(password):
            return ready.hashes[password].pop()
        return self._new_hash(password)

    def verify(self, stored: StoredSecret, password: str) -> bool:
        """Whether ``password`` is the one ``stored`` was made from (constant-time compare)."""
        ready = _PRECOMPUTED.get()
        if ready is not None:
            verdict = ready.verdicts.get(_verdict_key(stored, password))
            if verdict is not None:
                return verdict
        return self._check(stored, password)

    @contextmanager
    def precomputed(self) -> Iterator[None]:
        """A scope in which ``prepare_hash`` and ``prepare_verify`` results are reused."""
        token = _PRECOMPUTED.set(Precomputed())
        try:
            yield
        finally:
            _PRECOMPUTED.reset(token)

    def prepare_hash(self, password: str) -> None:
        """Work out a hash of ``password`` now, for a ``hash`` call later in the scope."""
        ready = _PRECOMPUTED.get()
        if ready is None:
            raise RuntimeError("prepare_hash outside a precomputed() scope")
        ready.hashes.setdefault(password, []).append(self._new_hash(password))

    def prepare_verify(self, stored: StoredSecret, password: str) -> None:
        """Check ``password`` against ``stored`` now, for a ``verify`` call later."""
        ready = _PRECOMPUTED.get()
        if ready is None:
            raise RuntimeError("prepare_verify outside a precomputed() scope")
        ready.verdicts[_verdict_key(stored, password)] = self._check(stored, password)

    def _new_hash(self, password: str) -> StoredSecret:
        salt = os.urandom(SALT_BYTES)
        digest = self._derive(password, salt, self.iterations)
        return StoredSecret(ALGORITHM, self.iterations, salt, digest)

    def _check(self, stored: StoredSecret, password: str) -> bool:
        if stored.algorithm != ALGORITHM:
            raise ValueError(f"unknown password algorithm {stored.algorithm!r}")
        candidate = self._derive(password, stored.salt, stored.iterations)
        return hmac.compare_digest(candidate, stored.digest)

    def _derive(self, password: str, salt: bytes, iterations: int) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", self.encode(password), salt, iterations)
