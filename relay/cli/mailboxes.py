"""Many reports at once for `relay bounces import`: an mbox file or a Maildir directory."""

import mailbox
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click


@dataclass
class Source:
    format: str  # "mbox" | "maildir"
    count: int
    messages: Iterator[bytes]


def open_source(path: Path) -> Source | None:
    """The messages of a Maildir or an mbox; None for a file that holds one message."""
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new")):
            raise click.BadParameter(
                f"{path} is a directory but not a Maildir (it needs cur/ and new/)",
                param_hint="SOURCE",
            )
        return _each(mailbox.Maildir(path, factory=None, create=False), "maildir")
    with path.open("rb") as file:
        head = file.read(5)
    if head == b"From ":  # the mbox separator line (RFC 4155); a message file starts with a header
        return _each(mailbox.mbox(path, factory=None, create=False), "mbox")
    return None


def _each(box: mailbox.Mailbox, kind: str) -> Source:
    keys = sorted(box.keys()) if kind == "maildir" else list(box.keys())  # maildir: by time

    def messages() -> Iterator[bytes]:
        for key in keys:
            try:
                yield box.get_bytes(key)
            except KeyError:  # removed meanwhile (a Maildir in use)
                continue

    return Source(kind, len(keys), messages())


@dataclass
class Summary:
    source: str
    format: str
    kinds: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, kind: str, outcome: str) -> None:
        self.kinds[kind] += 1
        self.outcomes[outcome] += 1

    def failed(self, index: int, error: Exception) -> None:
        self.errors.append({"index": index, "error": f"{type(error).__name__}: {error}"})

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "format": self.format,
            "reports": sum(self.kinds.values()),
            "seconds": self.seconds,
            "kinds": _by_count(self.kinds),
            "outcomes": _by_count(self.outcomes),
            "errors": self.errors,
        }


def _by_count(counts: Counter[str]) -> dict[str, int]:
    """Most first, ties by name: the same input always prints the same summary."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
