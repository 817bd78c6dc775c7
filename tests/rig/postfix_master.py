"""What every private Postfix here shares: the queue tree and stopping the master.

Used by the test rig (tests/rig/postfix.py) and the benchmark's relaying Postfix
(bench/lib/postfix.py); both run `master -s -c <root>/conf` as root in the foreground.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import subprocess
from pathlib import Path

from tests.rig.postfix_config import Layout
from tests.rig.tools import pid_alive, wait_until

# The queue tree, as /etc/postfix/postfix-files describes it: (name, owner, group, mode).
_PRIVATE_QUEUES = "active bounce corrupt defer deferred flush hold incoming private saved trace"
QUEUE_DIRS: tuple[tuple[str, str, str, int], ...] = (
    *((name, "postfix", "postfix", 0o700) for name in _PRIVATE_QUEUES.split()),
    ("maildrop", "postfix", "postdrop", 0o730),
    ("public", "postfix", "postdrop", 0o710),
    ("pid", "root", "root", 0o755),
)


def make_queue_tree(layout: Layout) -> None:
    """What `post-install create-missing` would do, plus the data directory and the log file.

    The log file is created up front: tools such as postsuper log straight to maillog_file
    while postlogd is not up yet, after dropping to the mail owner, and could not create it
    in a directory only root may write ("cannot create file exclusively").
    """
    postfix = pwd.getpwnam("postfix")
    for path in (layout.config, layout.queue):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)
    for name, owner, group, mode in QUEUE_DIRS:
        path = layout.queue / name
        path.mkdir(exist_ok=True)
        os.chown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
        path.chmod(mode)
    layout.data.mkdir(exist_ok=True)
    os.chown(layout.data, postfix.pw_uid, postfix.pw_gid)
    layout.data.chmod(0o700)
    layout.log.touch(exist_ok=True)
    os.chown(layout.log, postfix.pw_uid, postfix.pw_gid)
    layout.log.chmod(0o644)


def stop_master(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master (it passes it on to its process group), then sweep stragglers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    # The master is its own session/process group leader.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    wait_until(lambda: not group_alive(proc.pid), 5.0, "postfix processes to exit")


def group_alive(pgid: int) -> bool:
    """True while any live (non-zombie) process is still in process group `pgid`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and pid_alive(int(stat.parent.name)):
            return True
    return False
