"""Child processes of `relay serve` (workers, signing processes) die with their parent."""

import contextlib
import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG), so
    a SIGKILLed `relay serve` leaves nothing behind that listens or delivers. Elsewhere a
    no-op: the parent's own shutdown has to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
