"""The schema as numbered migrations, one list for every database engine.

A migration is a template (`$id`, `$ref`, `$blob`, `$real`, `$empty_blob` become each engine's
words, relay.store.dialect) or, for the few statements that differ, a text per dialect. SQLite
tracks the version in `PRAGMA user_version`. A migration is never edited once released: a change
is a new migration at the end (a test checks that a version-3 database migrates with its data).
"""

from collections.abc import Mapping

from relay.store.dialect import Dialect
from relay.store.schema_console import CONSOLE, CONSOLE_SEARCH
from relay.store.schema_features import (
    V5_DESIGN,
    V6_API,
    V6_DAY,
    V7_REPORTS_AND_AUTH,
    V8_NODES,
    V9_WIRE,
)
from relay.store.schema_spine import (
    V1_SPINE,
    V2_SHOPS_VERSION,
    V2_SHOPS_VERSION_SQLITE,
    V3_AUTH_FAILURES,
    V4_LEASES,
    V4_LEASES_SQLITE,
)

Migration = str | Mapping[str, str]  # one template, or {dialect name: template}

MIGRATIONS: tuple[Migration, ...] = (
    V1_SPINE,
    {"sqlite": V2_SHOPS_VERSION_SQLITE, "postgresql": V2_SHOPS_VERSION},
    V3_AUTH_FAILURES,
    {"sqlite": V4_LEASES_SQLITE, "postgresql": V4_LEASES},
    V5_DESIGN,
    {name: V6_API.replace("$day", day) for name, day in V6_DAY.items()},
    V7_REPORTS_AND_AUTH,
    V8_NODES,
    V9_WIRE,
    CONSOLE,
    CONSOLE_SEARCH,
)


def render(migration: Migration, dialect: Dialect) -> str:
    """The text of one migration for one engine."""
    template = migration if isinstance(migration, str) else migration[dialect.name]
    return dialect.ddl(template)
