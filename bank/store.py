"""The reference bank's SQLite store: schema, connection settings, transactions, reset.

One connection per thread, so that one bank serves many threads at once. The database
runs in WAL; in durable mode with ``synchronous=FULL``, in test mode (``durable=False``)
with ``synchronous=OFF`` so thousands of operations per second are possible (a crash may
lose the last transactions, which a test does not care about). Write transactions are
``BEGIN IMMEDIATE`` with a busy timeout, and short: the bank runs its password KDF before
it opens one (see ``core.py``). ``reset()`` empties every table in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from authspec.bank.errors import BankError

SCHEMA_VERSION = 2  # 2: OTP cells and session tokens kept as digests

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id            INTEGER PRIMARY KEY,
    id_number     TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL CHECK (status IN ('opening', 'registered')),
    last_login_at TEXT,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
    customer_id            INTEGER PRIMARY KEY REFERENCES customers(id),
    local_account          INTEGER NOT NULL,
    card_opened            INTEGER NOT NULL,
    agreement_acknowledged INTEGER NOT NULL,
    own_ukey               INTEGER NOT NULL,
    registered_at          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    card_number TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    registered  INTEGER NOT NULL,
    opened_here INTEGER NOT NULL,
    added_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    purpose      TEXT NOT NULL CHECK (purpose IN ('login', 'payment')),
    origin       TEXT NOT NULL CHECK (origin IN ('counter', 'online')),
    status       TEXT NOT NULL CHECK (status IN ('active', 'invalidated')),
    algorithm    TEXT NOT NULL,
    iterations   INTEGER NOT NULL,
    salt         BLOB NOT NULL,
    digest       BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    effective_at TEXT
);
CREATE INDEX IF NOT EXISTS credentials_current ON credentials (customer_id, purpose, id);
CREATE TABLE IF NOT EXISTS sessions (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id),
    token       TEXT NOT NULL,
    restricted  INTEGER NOT NULL,
    started_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS static_quota (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id),
    status      TEXT NOT NULL CHECK (status IN ('active', 'exhausted', 'superseded')),
    spent_fen   INTEGER NOT NULL DEFAULT 0 CHECK (spent_fen >= 0),
    changed_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS otp_cards (
    id             INTEGER PRIMARY KEY,
    customer_id    INTEGER NOT NULL REFERENCES customers(id),
    serial         TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL CHECK (status IN ('issued', 'active', 'used_up')),
    uses           INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    cell_salt      BLOB NOT NULL,
    cell_digests   BLOB NOT NULL,
    issued_at      TEXT NOT NULL,
    activated_at   TEXT,
    first_login_at TEXT
);
CREATE INDEX IF NOT EXISTS otp_cards_current ON otp_cards (customer_id, id);
CREATE TABLE IF NOT EXISTS otp_card_uses (
    id         INTEGER PRIMARY KEY,
    card_id    INTEGER NOT NULL REFERENCES otp_cards(id),
    payment_id INTEGER REFERENCES payments(id),
    challenge  TEXT NOT NULL,
    used_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS otp_card_uses_card ON otp_card_uses (card_id);
CREATE TABLE IF NOT EXISTS ukeys (
    id                  INTEGER PRIMARY KEY,
    customer_id         INTEGER NOT NULL REFERENCES customers(id),
    serial              TEXT NOT NULL,
    brand               TEXT NOT NULL,
    source              TEXT NOT NULL CHECK (source IN ('own', 'issued')),
    driver_installed_at TEXT,
    certificate_serial  TEXT,
    certificate_route   TEXT,
    certificate_at      TEXT,
    acquired_at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ukeys_customer ON ukeys (customer_id, id);
CREATE TABLE IF NOT EXISTS payments (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    method      TEXT NOT NULL CHECK (method IN ('static', 'otp', 'ukey')),
    channel     TEXT NOT NULL CHECK (channel IN ('b2c', 'online_banking')),
    amount_fen  INTEGER NOT NULL CHECK (amount_fen > 0),
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'refused')),
    reason      TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_method ON payments (customer_id, method, status);
"""

TABLES = (
    "otp_card_uses",
    "payments",
    "otp_cards",
    "ukeys",
    "static_quota",
    "sessions",
    "credentials",
    "cards",
    "registrations",
    "customers",
)


def stamp(moment: datetime) -> str:
    """``moment`` (timezone-aware) as a fixed-width, sortable UTC ISO-8601 string."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Store:
    """The bank's SQLite database: one connection per thread, short write transactions.

    One ``Store`` (and so one :class:`~authspec.bank.core.Bank`) may be shared by many
    threads: each thread gets its own connection to the same file, opened on first use.
    WAL lets readers run beside the one writer; every write transaction starts with
    ``BEGIN IMMEDIATE`` (it takes the write lock at once, so two writers never deadlock
    upgrading a read lock) and a writer waits up to ``BUSY_TIMEOUT_MS`` for the lock.
    """

    BUSY_TIMEOUT_MS = 30_000

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        conn = self.conn
        conn.execute("PRAGMA journal_mode=WAL")
        self._create_schema(conn)

    def __repr__(self) -> str:
        return f"Store(path={str(self.path)!r}, durable={self.durable})"

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise RuntimeError("the bank's database is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,  # only closed from another thread, by close()
            timeout=self.BUSY_TIMEOUT_MS / 1000,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={self.BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'OFF'}")
        conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._connections.append(conn)
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._check_schema_version(conn)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _check_schema_version(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise RuntimeError(
                f"{self.path} holds the bank's schema version {version}, this bank needs "
                f"version {SCHEMA_VERSION} (no migration exists): remove the file, or open it "
                "with the version of the bank that wrote it"
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One unit of work. A refusal (``BankError``) commits what was written before it
        (normally nothing but audit rows); any other exception rolls everything back."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BankError:
            conn.execute("COMMIT")
            raise
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read-only unit of work: every SELECT in it sees the same committed state."""
        conn = self.conn
        if conn.in_transaction:  # already inside a unit of work: its view is the one
            yield conn
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement; the row id of an INSERT."""
        cursor = self.conn.execute(sql, params)
        return cursor.lastrowid or 0

    def changes(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one UPDATE or DELETE; the number of rows it changed."""
        return self.conn.execute(sql, params).rowcount

    def reset(self) -> None:
        """Empty every table (fast: one transaction, no file re-creation)."""
        with self.transaction() as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        """Close every thread's connection; the store refuses work afterwards."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._closed = True
        for conn in connections:
            conn.close()
        self._local = threading.local()
