"""Errors that end a command with a message instead of a traceback (no heavy imports here:
the supervisor of `relay serve` imports this)."""


class SetupError(Exception):
    """A file or setting `relay serve` needs is missing or unusable; the message names it and
    the fix."""
