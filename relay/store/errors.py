"""What the store raises instead of a driver's exceptions (callers never import sqlite3)."""


class StoreError(Exception):
    """The database refused or could not do what was asked."""


class StoreUnavailable(StoreError):
    """A transient failure: disk full, an I/O error, the database locked or gone for a moment.
    Nothing was written; the same write may succeed later (callers that hold a result retry)."""


class StoreClosed(StoreError):
    """The writer has stopped: nothing more can be written by this process."""
