"""One event of a message's history in words, in English or German: `relay message show`
(English), the API and the console (the shop's language) all say it with these."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from relay.explain import reason_words

Words = Callable[[dict[str, Any], str], str]

_IDENTITY = {
    "en": {
        "shop": "signed as the shop",
        "fallback": "from the relay's fallback address (the shop's domain is not verified)",
    },
    "de": {
        "shop": "als der Shop signiert",
        "fallback": "von der Ausweichadresse des Relays (die Shop-Domain ist nicht verifiziert)",
    },
}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _de(language: str) -> bool:
    return language == "de"


def _accepted(d: dict[str, Any], language: str) -> str:
    count = d.get("recipients", 0)
    identity = _IDENTITY["de" if _de(language) else "en"].get(d.get("identity") or "", "")
    if _de(language):
        return f"für {count} Empfänger, {identity}".rstrip(", ")
    return f"for {count} recipient{'' if count == 1 else 's'}, {identity}".rstrip(", ")


def _delivery(d: dict[str, Any], language: str) -> str:
    """deferred / delivered / bounced / failed: by a live reply, a report, or the expiry."""
    de = _de(language)
    if d.get("report") is not None:
        late = (
            (" nach der Zustellung" if de else " after it was delivered") if d.get("late") else ""
        )
        reason = (reason_words(d.get("reason"), "de") if de else None) or d.get("reason") or "?"
        head = f"Unzustellbarkeitsbericht {d['report']}" if de else f"bounce report {d['report']}"
        return (
            f"{head}{late}: {reason} {d.get('status') or ''} {d.get('diagnostic') or ''}".rstrip()
        )
    parts = [d.get("reply") or d.get("text") or d.get("reason") or ""]
    if d.get("mx"):
        parts.append(f"(von {d['mx']})" if de else f"(from {d['mx']})")
    if d.get("reason") == "expired" and not d.get("next_attempt_at"):  # bounced at the end
        parts.insert(
            0,
            "aufgegeben am Ende der Wartezeit; letzter Fehler:"
            if de
            else "gave up at the end of the queue lifetime; last error:",
        )
    if d.get("next_attempt_at"):
        then = _when(d["next_attempt_at"])
        parts.append(f"; nächster Versuch {then}" if de else f"; next try {then}")
    return " ".join(p for p in parts if p).replace(" ;", ";")


def _report(d: dict[str, Any], language: str) -> str:
    if d.get("verified") is False:
        return _unverified(d, language)
    said = f": {d['diagnostic']}" if d.get("diagnostic") else ""
    name = "Bericht" if _de(language) else "report"
    return f"{d.get('report_kind') or name} ({name} {d.get('report')}){said}"


def _unverified(d: dict[str, Any], language: str) -> str:
    """A report that only quoted the Message-ID (relay.inbound.effects.record_unverified)."""
    claimed = d.get("claimed") or d.get("report_kind") or "?"
    if _de(language):
        return (
            f"ungeprüfter Bericht {d.get('report')} ({claimed}): ohne signierte Referenz,"
            " daher ohne Wirkung"
        )
    return f"unverified report {d.get('report')} ({claimed}): no signed reference, so no effect"


def _complained(d: dict[str, Any], language: str) -> str:
    kind = d.get("feedback_type") or "abuse"
    if _de(language):
        return f"Spam-Beschwerde ({kind}, Bericht {d.get('report')}); die Adresse ist gesperrt"
    return f"spam complaint ({kind}, report {d.get('report')}); the address is blocked"


def _quarantined(d: dict[str, Any], language: str) -> str:
    last = ((d.get("traceback") or "").strip().splitlines() or ["?"])[-1]
    if _de(language):
        return "wegen eines internen Fehlers zurückgehalten; `relay queue retry` sendet erneut"
    return f"held back by an internal error ({last}); `relay queue retry` sends it again"


def _suppressed(d: dict[str, Any], language: str) -> str:
    return (
        f"{'nicht gesendet' if _de(language) else 'not sent'}: {d.get('text') or d.get('reason')}"
    )


def _retry(d: dict[str, Any], language: str) -> str:
    if _de(language):
        return "auf Wunsch eines Admins sofort erneut gesendet (`relay queue retry`)"
    return "sent again now, as an admin asked (`relay queue retry`)"


def _warning(d: dict[str, Any], language: str) -> str:
    return d.get("text") or d.get("reason") or ""


def _generic(d: dict[str, Any], language: str) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items() if v not in (None, "", [], {}))


_WORDS: dict[str, Words] = {
    "accepted": _accepted,
    "warning": _warning,
    "suppressed": _suppressed,
    "failed": _delivery,
    "deferred": _delivery,
    "delivered": _delivery,
    "bounced": _delivery,
    "delayed": _report,
    "report": _report,
    "complained": _complained,
    "quarantined": _quarantined,
    "retry": _retry,
}


def event_words(kind: str, detail: dict[str, Any], language: str = "en") -> str:
    """What one event (its kind and stored detail) says, in words; never a dict repr."""
    return _WORDS.get(kind, _generic)(detail or {}, language)
