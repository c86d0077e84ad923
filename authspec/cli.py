"""The ``authspec`` command line: one typer application, commands registered by concern.

Exit codes, for every command: 0 success; 1 the check found something (invalid spec,
nonconformance, stale diagrams); 2 a usage error or a backend that failed.
"""

from __future__ import annotations

import typer

from authspec.bank import commands as bank_commands
from authspec.diagrams import commands as diagram_commands
from authspec.harness import commands as harness_commands
from authspec.model import commands as model_commands

app = typer.Typer(
    name="authspec",
    help="Executable state-machine specs of written policy, and conformance tests against them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

model_commands.register(app)
harness_commands.register(app)
diagram_commands.register(app)
bank_commands.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
