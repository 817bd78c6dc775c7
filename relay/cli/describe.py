"""Events and attempts of a message in words, one line each (`relay message show`)."""

from collections.abc import Callable
from typing import Any

from relay.cli.common import when

_IDENTITY = {
    "shop": "signed as the shop",
    "fallback": "from the relay's fallback address (the shop's domain is not verified)",
}


def attempt_line(attempt: dict[str, Any]) -> str:
    """`TIME mx1.example.net tls=yes 250 2.0.0 Ok (45 ms)`, or, when no connection was made,
    `TIME no connection: <why>`: the reply is then the relay's own words, not a server's."""
    status = attempt.get("status") or ""
    text = attempt.get("text") or ""
    if attempt.get("mx_host") is None:
        return f"{when(attempt['at'])} no connection: {text}" + (f" ({status})" if status else "")
    reply = " ".join(str(p) for p in (attempt.get("code"), status, text) if p)
    tls = "yes" if attempt.get("tls") else "no"
    return (
        f"{when(attempt['at'])} {attempt['mx_host']} tls={tls} {reply}"
        f" ({attempt.get('duration_ms') or 0} ms)"
    )


def event_line(event: dict[str, Any], addresses: dict[int, str]) -> str:
    """`TIME  kind  what happened`, the detail in words (never a dict)."""
    detail = event.get("detail") or {}
    words = _WORDS.get(event["kind"], _generic)(detail)
    who = addresses.get(event.get("recipient") or -1)
    if who:
        words = f"{who}: {words}"
    return f"{when(event['at'])}  {event['kind']:<11} {words}"


def _accepted(d: dict[str, Any]) -> str:
    count = d.get("recipients", 0)
    identity = _IDENTITY.get(d.get("identity") or "", d.get("identity") or "")
    return f"for {count} recipient{'' if count == 1 else 's'}, {identity}"


def _delivery(d: dict[str, Any]) -> str:
    """deferred / delivered / bounced / failed: by a live reply, a report, or the expiry."""
    if d.get("report") is not None:
        late = " after it was delivered" if d.get("late") else ""
        return (
            f"bounce report {d['report']}{late}: {d.get('reason') or '?'}"
            f" {d.get('status') or ''} {d.get('diagnostic') or ''}".rstrip()
        )
    parts = [d.get("reply") or d.get("text") or d.get("reason") or ""]
    if d.get("mx"):
        parts.append(f"(from {d['mx']})")
    if d.get("reason") == "expired" and not d.get("next_attempt_at"):  # bounced at the end
        parts.insert(0, "gave up at the end of the queue lifetime; last error:")
    if d.get("next_attempt_at"):
        parts.append(f"; next try {when(d['next_attempt_at'])}")
    return " ".join(p for p in parts if p).replace(" ;", ";")


def _report(d: dict[str, Any]) -> str:
    said = f": {d['diagnostic']}" if d.get("diagnostic") else ""
    return f"{d.get('report_kind') or 'report'} (report {d.get('report')}){said}"


def _complained(d: dict[str, Any]) -> str:
    kind = d.get("feedback_type") or "abuse"
    return f"spam complaint ({kind}, report {d.get('report')}); the address is blocked"


def _quarantined(d: dict[str, Any]) -> str:
    last = ((d.get("traceback") or "").strip().splitlines() or ["?"])[-1]
    return f"held back by an internal error ({last}); `relay queue retry` sends it again"


def _generic(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items() if v not in (None, "", [], {}))


_WORDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "accepted": _accepted,
    "warning": lambda d: d.get("text") or d.get("reason") or "",
    "suppressed": lambda d: f"not sent: {d.get('text') or d.get('reason')}",
    "failed": _delivery,
    "deferred": _delivery,
    "delivered": _delivery,
    "bounced": _delivery,
    "delayed": _report,
    "report": _report,
    "complained": _complained,
    "quarantined": _quarantined,
    "retry": lambda d: "sent again now, as an admin asked (`relay queue retry`)",
}
