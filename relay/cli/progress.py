"""Progress of long CLI work (`relay bounces import` of a year of reports, `relay db copy`).

A click progress bar on stderr when stderr is a terminal, so stdout keeps only the summary
(or the JSON document); nothing at all when stderr is not a terminal (a log, a pipe, cron)
or with --json.
"""

import contextlib
import sys
from collections.abc import Callable, Iterator

import click


@contextlib.contextmanager
def progress(total: int, label: str, *, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`, to call as items are done."""
    if quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(
        length=total,
        label=label,
        file=sys.stderr,
        show_pos=True,
        show_eta=True,
        update_min_steps=max(1, total // 500),  # redraw ~500 times, not once per item
    ) as bar:
        yield bar.update
