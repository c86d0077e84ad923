"""The reference bank's SQLite store: schema, connection settings, transactions, reset.

One connection per bank. In durable mode the database runs in WAL with
``synchronous=FULL``; in test mode (``durable=False``) it runs with ``synchronous=OFF`` so
thousands of operations per second are possible (a crash may lose the last transactions,
which a test does not care about). ``reset()`` empties every table in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from authspec.bank.errors import BankError

SCHEMA_VERSION = 1

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
    uses           INTEGER NOT NULL DEFAULT 0,
    grid           TEXT NOT NULL,
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
    """One SQLite connection to the bank's database file."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._configure()
        self._create_schema()

    def __repr__(self) -> str:
        return f"Store(path={str(self.path)!r}, durable={self.durable})"

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the bank's database is closed")
        return self._conn

    def _configure(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'OFF'}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=5000")

    def _create_schema(self) -> None:
        self.conn.executescript(SCHEMA)
        self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement; the row id of an INSERT."""
        cursor = self.conn.execute(sql, params)
        return cursor.lastrowid or 0

    def reset(self) -> None:
        """Empty every table (fast: one transaction, no file re-creation)."""
        with self.transaction() as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
