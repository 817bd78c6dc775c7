"""The store owns every SQL statement (issue 10): outside `relay/store/` no module imports a
database driver, calls `execute*` or reaches into a store handle; `prepare/` and `store/`
do not import each other (their shared types live in relay.model).

AST-based: an import or a call is found however it is spelled, and a string that merely
mentions SQL is not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("relay", "config", "bounces", "dns_checks")
STORE = ROOT / "relay" / "store"
DRIVERS = {"sqlite3", "psycopg", "psycopg2", "psycopg_pool", "sqlite_utils", "apsw", "aiosqlite"}
SQL_CALLS = {"execute", "executemany", "executescript"}
HANDLE_INTERNALS = {"_raw"}


def violations(source: str) -> list[str]:
    """What in `source` runs SQL or touches a driver outside the store."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            names = []
        for name in names:
            if name.split(".")[0] in DRIVERS:
                found.append(f"line {node.lineno}: imports {name}")
        call = node.func if isinstance(node, ast.Call) else None
        if isinstance(call, ast.Attribute) and call.attr in SQL_CALLS:
            found.append(f"line {node.lineno}: calls .{call.attr}()")
        if isinstance(node, ast.Attribute) and node.attr in HANDLE_INTERNALS:
            found.append(f"line {node.lineno}: reaches into a store handle (.{node.attr})")
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def outside_store() -> list[Path]:
    return [p for pkg in PACKAGES for p in modules(pkg) if STORE not in p.parents]


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_module_outside_the_store_runs_sql_or_imports_a_driver() -> None:
    report = {
        str(path.relative_to(ROOT)): bad
        for path in outside_store()
        if (bad := violations(path.read_text()))
    }
    assert report == {}


def test_the_store_really_holds_the_sql() -> None:
    """The check above looks at the right files: the store itself does run SQL."""
    assert len(outside_store()) > 50
    assert any(violations(p.read_text()) for p in modules("relay/store"))


@pytest.mark.parametrize(
    "source",
    [
        "import sqlite3",
        "import psycopg.rows as rows",
        "from sqlite_utils import Database",
        "conn.execute('SELECT 1')",
        "db.read().executemany(sql, rows)",
        "tx._raw.commit()",
    ],
)
def test_the_check_catches_each_way_of_running_sql(source: str) -> None:
    assert violations(source)


def test_a_string_that_mentions_sql_or_another_execute_is_no_violation() -> None:
    source = "HELP = 'SELECT * FROM recipients'\nclient.execute_command(b'NOOP')\n"
    assert violations(source) == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("relay/prepare", "relay.store"), ("relay/store", "relay.prepare")],
)
def test_prepare_and_store_do_not_import_each_other(package: str, forbidden: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imports_of(path) if n.startswith(forbidden))
        for path in modules(package)
    }
    assert {p: names for p, names in offenders.items() if names} == {}


def test_the_store_imports_no_caller() -> None:
    """The store depends on relay.model and the leaves, never on who calls it."""
    callers = ("relay.delivery", "relay.inbound", "relay.smtp", "relay.cli", "relay.http")
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imports_of(path) if n.startswith(callers))
        for path in modules("relay/store")
    }
    assert {p: names for p, names in offenders.items() if names} == {}
