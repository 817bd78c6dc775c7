"""bench/relay's output: every run, then per mode and size the three columns side by side
and the targets of issue 15 (TLS + AUTH) or issue 3 (smtp-source)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from bench.lib.e2e import Run
from bench.lib.report import mib, size_label, table, verdict
from bench.lib.systems import LABELS


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def runs_table(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        per_session = r.load.messages / max(r.load.sessions, 1)
        rows.append(
            [
                r.round,
                r.system,
                size_label(r.size),
                f"{r.load.sessions_opened}x{per_session:g}",
                f"{r.accepted_rate:,.0f}",
                f"{r.delivered_rate:,.0f}",
                r.backlog,
                f"{r.delivered}/{r.load.accepted}",
                f"{r.ms_per_message(r.usage):.2f}",
                f"{r.ms_per_message(r.load_usage):.2f}",
                f"{r.ms_per_message(r.sink_usage):.2f}",
                _ms(r.latency(0.5)),
                _ms(r.latency(0.99)),
                f"{r.load_before * 100:.0f}/{r.other_cpu / r.delivered_after * 100:.0f}"
                if r.delivered_after < float("inf")
                else "-",
                mib(r.usage.peak_rss) if r.system == "relay" else "-",
                "/".join(map(str, r.sessions_per_worker)) if r.system == "relay" else "-",
            ]
        )
    headers = [
        "round",
        "system",
        "size",
        "sessions x msgs",
        "accepted/s",
        "delivered/s",
        "backlog",
        "delivered",
        "CPU ms/msg",
        "loadgen ms/msg",
        "sink ms/msg",
        "p50 ms",
        "p99 ms",
        "other CPU % before/during",
        "RSS MB",
        "sessions/worker",
    ]
    return table(headers, rows)


def _median(runs: list[Run], value: Callable[[Run], float]) -> float:
    values = [v for v in (value(r) for r in runs) if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def summary(mode: str, size: int, runs: list[Run]) -> str:
    """The three columns (median over the rounds) and the targets."""
    systems = list(dict.fromkeys(r.system for r in runs))
    by = {s: [r for r in runs if r.system == s] for s in systems}
    lines = [
        ("delivered msg/s", lambda r: r.delivered_rate, "{:,.0f}"),
        ("accepted msg/s", lambda r: r.accepted_rate, "{:,.0f}"),
        ("backlog when the load ended", lambda r: float(r.backlog), "{:,.0f}"),
        ("CPU ms per message (all its processes)", lambda r: r.ms_per_message(r.usage), "{:.2f}"),
        ("load generator CPU ms/msg", lambda r: r.ms_per_message(r.load_usage), "{:.2f}"),
        ("p50 end of DATA to 250 (ms)", lambda r: r.latency(0.5) * 1000, "{:.1f}"),
        ("p99 end of DATA to 250 (ms)", lambda r: r.latency(0.99) * 1000, "{:.1f}"),
    ]
    rounds = max((r.round for r in runs), default=0)
    head = [
        f"{size_label(size)} ({mode}), median of {rounds}",
        *(LABELS.get(s, s) for s in systems),
    ]
    rows = [
        [name, *(_fmt(fmt, _median(by[s], value)) for s in systems)] for name, value, fmt in lines
    ]
    out = [table(head, rows)]
    out += targets(mode, size, by)
    out += [variant_line(name, by["relay"], by[name]) for name in systems if ":" in name]
    return "\n".join(out)


def variant_line(name: str, plain: list[Run], variant: list[Run]) -> str:
    """A relay variant against the plain relay of the same rounds."""
    pairs = [(v, p) for v in variant for p in plain if p.round == v.round]
    rate = [v.delivered_rate / p.delivered_rate for v, p in pairs if p.delivered_rate]
    accepted = [v.accepted_rate / p.accepted_rate for v, p in pairs if p.accepted_rate]
    cpu = [v.ms_per_message(v.usage) - p.ms_per_message(p.usage) for v, p in pairs]
    return (
        f"{name} / relay, per round: delivered {', '.join(f'{x:.2f}' for x in rate)};"
        f" accepted {', '.join(f'{x:.2f}' for x in accepted)};"
        f" CPU ms/msg {', '.join(f'{x:+.2f}' for x in cpu)}"
    )


def _fmt(fmt: str, value: float) -> str:
    return "-" if math.isnan(value) else fmt.format(value)


def targets(mode: str, size: int, by: dict[str, list[Run]]) -> list[str]:
    relay, postfix = by.get("relay", []), by.get("postfix", [])
    if not relay:
        return []
    out = []
    if postfix:
        pairs = [(r, p) for r in relay for p in postfix if p.round == r.round]
        ratios = [r.delivered_rate / p.delivered_rate for r, p in pairs if p.delivered_rate]
        cpu = [
            r.ms_per_message(r.usage) / p.ms_per_message(p.usage)
            for r, p in pairs
            if p.ms_per_message(p.usage)
        ]
        want = (1.5 if size <= 2400 else 1.3) if mode == "tls" else (1.5 if size <= 2400 else 1.0)
        listed = ", ".join(f"{x:.2f}" for x in ratios)
        ok = bool(ratios) and min(ratios) >= want
        out.append(
            f"relay/Postfix delivered, per round: {listed} (target >= {want:g} in each: "
            f"{verdict(ok)}); CPU relay/Postfix: {', '.join(f'{x:.2f}' for x in cpu)}"
        )
        if mode == "tls":
            p99 = _median(relay, lambda r: r.latency(0.99))
            p99_postfix = _median(postfix, lambda r: r.latency(0.99))
            out.append(
                f"p99 end of DATA to 250: relay {_ms(p99)} ms, Postfix {_ms(p99_postfix)} ms"
                f" (target relay <= Postfix: {verdict(p99 <= p99_postfix)})"
            )
    if mode == "tls" and size <= 2400:
        cpu_ms = _median(relay, lambda r: r.ms_per_message(r.usage))
        keep_up = _median(relay, lambda r: r.delivered_rate / r.accepted_rate)
        out.append(
            f"relay CPU {cpu_ms:.2f} ms/msg (target <= 2.0: {verdict(cpu_ms <= 2.0)});"
            f" delivered/accepted rate {keep_up:.2f} (target >= 0.95: {verdict(keep_up >= 0.95)})"
        )
    return out


def notes(runs: list[Run]) -> list[str]:
    return [f"round {r.round} {r.system} {size_label(r.size)}: {n}" for r in runs for n in r.notes]


def explain() -> str:
    return (
        "accepted/s: 250s / load generator's time; delivered/s: messages / time until the"
        " sink had them all (both from the same start); backlog: accepted but not yet"
        " delivered when the load ended. CPU ms/msg: utime+stime of all the system's"
        " processes (relay: serve and its workers; Postfix: master and every child, plus"
        " opendkim) per accepted message, from the start until the sink had them all;"
        " loadgen and sink (smtp-sink + nsd) apart. p50/p99: from writing the final '.' to"
        " reading the 250, every message. other CPU: busy CPU of the machine outside this"
        " benchmark, % of one core (noise; figures taken with more than a few % are not"
        " comparable). sessions/worker: open sessions per relay worker (SO_REUSEPORT)."
    )
