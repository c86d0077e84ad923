"""``python -m authspec`` runs the command line."""

from authspec.cli import main

main()
