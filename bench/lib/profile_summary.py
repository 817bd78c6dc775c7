"""Read py-spy's raw output (collapsed stacks) and say where the relay's CPU goes.

Each sample is put into the first category that its stack matches, walking from the leaf
(the function on the CPU) towards the root: a SQLite statement called by the writer counts as
"SQL statements", a TLS write called by aiosmtpd as "TLS". Shares are of the busy samples of
all threads of all the relay's processes; multiplied by the relay's measured CPU per message
they give milliseconds per message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

Frame = tuple[str, str]  # (function, file)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")


def _in(*parts: str) -> Callable[[Frame], bool]:
    return lambda frame: any(p in frame[1] for p in parts)


def _func(file_part: str, *names: str) -> Callable[[Frame], bool]:
    """Functions by name (py-spy writes methods as Class.method) in a file."""
    return lambda frame: file_part in frame[1] and frame[0].rsplit(".", 1)[-1] in names


# Ordered: the first rule that matches a frame names its category; frames are tried from the
# leaf up. File parts are matched against py-spy's --full-filenames paths.
RULES: list[tuple[str, Callable[[Frame], bool]]] = [
    # The RSA operation is a C call: py-spy (without --native) counts it as sign_headers' own
    # time, which is little else (its helpers are frames of their own).
    ("DKIM: RSA signature (OpenSSL)", _func("relay/dkim_sign.py", "sign_headers")),
    ("DKIM: canonicalise, hash, build header", _in("relay/dkim_sign.py", "/dkim/")),
    ("store: cross-process write lock", _func("relay/store/writer.py", "__enter__", "__exit__")),
    ("store: BEGIN/COMMIT (fsync)", _func("relay/store/writer.py", "_begin", "_commit")),
    (
        "store: SQL statements (jobs)",
        _in("relay/store/", "relay/delivery/record.py", "relay/delivery/queue.py", "sqlite_utils"),
    ),
    ("prepare: parse, check, rewrite headers", _in("relay/prepare/")),
    (
        "socket send/recv syscalls (loopback TCP)",
        _func(
            "selector_events.py",
            "write",
            "_write_ready",
            "_read_ready__get_buffer",
            "_read_ready__data_received",
            "_sock_connect",
            "sock_sendall",
        ),
    ),
    ("TLS (ssl, sslproto)", _in("/ssl.py", "/sslproto.py", "libssl", "libcrypto")),
    ("delivery: aiosmtplib, scheduler, DNS", _in("aiosmtplib/", "relay/delivery/", "/dns/")),
    ("SMTP server: aiosmtpd, relay/smtp", _in("aiosmtpd/", "relay/smtp/")),
    (
        "event loop, streams, threads",
        _in("asyncio/", "selectors.py", "threading.py", "queue.py", "uvloop", "concurrent/"),
    ),
    ("logging", _in("logging/")),
]
OTHER = "other"


@dataclass
class Profile:
    samples: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_leaf: Counter[str] = field(default_factory=Counter)  # self time per function
    by_process: Counter[str] = field(default_factory=Counter)
    by_thread: Counter[str] = field(default_factory=Counter)
    # "main" (each process's MainThread) or "other" (db-writer, executor threads) -> category
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)


def parse_frame(text: str) -> Frame:
    match = _FRAME.match(text.strip())
    if match is None:
        return text.strip(), ""
    return match.group("func"), match.group("file")


def category(frames: list[Frame]) -> str:
    for frame in reversed(frames):  # leaf first
        for name, matches in RULES:
            if matches(frame):
                return name
    return OTHER


def read_raw(text: str) -> Profile:
    """py-spy `-f raw --threads --subprocesses`: "process ...;thread ...;f (file);... N"."""
    profile = Profile()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        # With --subprocesses the stack starts with the chain of parents: the last is its own.
        process = next((p for p in reversed(parts) if p.startswith("process ")), "")
        thread = next((p for p in parts if p.startswith("thread ")), "")
        frames = [parse_frame(p) for p in parts if not p.startswith(("process ", "thread "))]
        profile.samples += count
        profile.by_category[category(frames)] += count
        if frames:
            func, file = frames[-1]
            profile.by_leaf[f"{func} ({_short(file)})"] += count
        profile.by_process[_short_process(process)] += count
        name = thread.split(" ", 2)[-1] if thread else "?"
        profile.by_thread[name] += count
        kind = "main" if name == "MainThread" else "other"
        profile.by_kind.setdefault(kind, Counter())[category(frames)] += count
    return profile


def _short(path: str) -> str:
    for marker in ("site-packages/", "/relay/", "/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return ("relay/" + tail) if marker == "/relay/" else tail.split("/", 1)[-1]
    return path


def _short_process(text: str) -> str:
    match = re.search(r"process (\d+):\"?(.*)", text)
    if match is None:
        return text or "?"
    command = match.group(2)
    role = "worker " + command.split("--worker ", 1)[1].split()[0] if "--worker" in command else ""
    return f"{match.group(1)} {role or command[:40]}"


def scaled(profile: Profile, thread_ms: dict[str, float]) -> Counter[str]:
    """ms per message by category, each thread kind's samples scaled to the CPU that kind of
    thread really used (/proc): py-spy counts a thread as busy while it runs or waits for a
    core, and on a loaded machine the waiting is not spread evenly over the threads."""
    out: Counter[str] = Counter()
    for kind, counter in profile.by_kind.items():
        total = sum(counter.values()) or 1
        for name, count in counter.items():
            out[name] += count / total * thread_ms.get(kind, 0.0)  # type: ignore[assignment]
    return out


def report(
    profile: Profile,
    cpu_ms_per_message: float,
    thread_ms: dict[str, float] | None = None,
    top: int = 25,
) -> str:
    """Categories and leaf functions, as % of busy samples and as ms per message."""
    total = max(profile.samples, 1)

    def rows(counter: Counter[str], limit: int | None = None) -> list[str]:
        out = []
        for name, count in counter.most_common(limit):
            share = count / total
            out.append(f"  {share * 100:5.1f} %  {share * cpu_ms_per_message:6.3f} ms  {name}")
        return out

    lines = [
        f"busy samples: {profile.samples}; relay CPU {cpu_ms_per_message:.2f} ms per message",
        "",
        "by category (first match from the leaf up): % of samples, ms = share x CPU/msg:",
        *rows(profile.by_category),
        "",
    ]
    if thread_ms:
        split = ", ".join(f"{k} threads {v:.3f} ms" for k, v in sorted(thread_ms.items()))
        lines += [
            f"by category, scaled per thread kind to measured CPU ({split}):",
            *(f"  {ms:6.3f} ms  {name}" for name, ms in scaled(profile, thread_ms).most_common()),
            "",
        ]
    lines += [
        "by process:",
        *rows(profile.by_process),
        "",
        "by thread:",
        *rows(profile.by_thread, 12),
        "",
        f"top {top} functions on the CPU (self):",
        *rows(profile.by_leaf, top),
    ]
    return "\n".join(lines)
