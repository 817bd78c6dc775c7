"""Events and attempts of a message in words, one line each (`relay message show`); the
words of an event are relay/event_words.py's, which the API and the console speak too."""

from typing import Any

from relay.cli.common import when
from relay.event_words import event_words


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
    words = event_words(event["kind"], event.get("detail") or {})
    who = addresses.get(event.get("recipient") or -1)
    if who:
        words = f"{who}: {words}"
    return f"{when(event['at'])}  {event['kind']:<11} {words}"
