"""`python -m relay` runs the CLI."""

from relay.cli import main

main()
