"""``authspec serve-reference``: the reference bank (or one of its mutants) over HTTP.

It opens the bank's SQLite file (a temporary one unless ``--db`` names it), binds a
loopback port (a free one unless ``--port`` names it), prints the base URL on one line,
``serving the reference bank at http://127.0.0.1:PORT``, and serves until interrupted
(Ctrl-C or SIGTERM: it finishes the requests under way, closes the database, removes a
temporary one and exits 0). The reset endpoint ``POST /testing/reset`` answers 404 unless
``--allow-reset`` is given.
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from authspec.bank.core import Bank
from authspec.bank.passwords import PRODUCTION_KDF_ITERATIONS

USAGE_ERROR = 2


def _bank_class(mutant: str | None) -> type[Bank]:
    if mutant is None:
        return Bank
    from authspec.bank.mutants import mutant_named  # the mutants need the harness

    try:
        return mutant_named(mutant).bank_class
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]} (see `authspec mutants`)", err=True)
        raise typer.Exit(USAGE_ERROR) from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve_reference(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default)")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one")] = 0,
    db: Annotated[Path | None, typer.Option(
        help="The bank's SQLite file (kept); default a temporary one, removed on exit")] = None,
    allow_reset: Annotated[bool, typer.Option(
        "--allow-reset", help="Serve POST /testing/reset (forgets every customer)")] = False,
    mutant: Annotated[str | None, typer.Option(
        help="Serve this mutant of the bank instead (names: `authspec mutants`)")] = None,
    kdf_iterations: Annotated[int, typer.Option(
        help="PBKDF2 work factor for new passwords; lower only for tests")]
    = PRODUCTION_KDF_ITERATIONS,
) -> None:
    """Serve the reference bank over HTTP/JSON (OpenAPI at /openapi.json)."""
    from authspec.bank.service import (
        create_app,
        loopback_socket,
        server_for,
        stop_on_signals,
        url_of,
    )

    bank_class = _bank_class(mutant)
    if not _is_loopback(host):
        typer.echo(f"warning: {host} is not a loopback address; the bank is reachable from "
                   "other machines, with no TLS", err=True)
    try:
        sock = loopback_socket(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}; "
                   "choose another --port, or 0 for a free one", err=True)
        raise typer.Exit(USAGE_ERROR) from None
    temp_dir: Path | None = None
    if db is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="authspec-bank-"))
        db = temp_dir / "bank.sqlite3"
    bank = bank_class(db, kdf_iterations=kdf_iterations)
    try:
        suffix = f" (mutant {mutant})" if mutant else ""
        typer.echo(f"serving the reference bank at {url_of(sock)}{suffix}")
        server = server_for(create_app(bank, allow_reset=allow_reset))
        stop_on_signals(server)
        server.run(sockets=[sock])
    finally:
        sock.close()
        bank.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the application."""
    app.command("serve-reference")(serve_reference)
