"""``python -m shipline`` runs the CLI."""

from shipline.cli.app import main

main()
