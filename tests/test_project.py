"""Project rules: lint, the leaf-package rule (imports and I/O), and CLI help that the README
mentions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import click
import pytest

from relay.cli import main

ROOT = Path(__file__).resolve().parents[1]
LEAVES = ["bounces", "dns_checks", "config"]


def test_ruff_lint_and_format_are_clean() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run([*ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [*ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def test_no_module_defines_a_name_twice() -> None:
    """Review 3 found `_plan_row` defined twice in relay/http/api/messages.py: the second
    silently wins, and an edit to the first changes nothing. Top-level functions and classes
    of every module of ours, each defined once (an `if`/`try` alternative is not top level)."""
    twice = []
    for package in ("relay", *LEAVES):
        for path in sorted((ROOT / package).rglob("*.py")):
            seen: set[str] = set()
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    if node.name in seen:
                        twice.append(f"{path.relative_to(ROOT)}: {node.name} (line {node.lineno})")
                    seen.add(node.name)
    assert twice == []


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaf_packages_import_nothing_of_the_relay(leaf: str) -> None:
    code = (
        f"import sys, {leaf}, pkgutil, importlib\n"
        f"for m in pkgutil.walk_packages({leaf}.__path__, '{leaf}.'):\n"
        f"    importlib.import_module(m.name)\n"
        f"ours = {{'relay', 'config', 'bounces', 'dns_checks'}} - {{'{leaf}'}}\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in ours))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{leaf} imports {done.stdout}"


def test_render_is_a_leaf_inside_relay() -> None:
    """relay/render is pure (DESIGN: "could become a fourth leaf"): importing all of it pulls in
    no other part of the relay, nor config, bounces or dns_checks."""
    code = (
        "import sys, pkgutil, importlib, relay.render\n"
        "for m in pkgutil.walk_packages(relay.render.__path__, 'relay.render.'):\n"
        "    importlib.import_module(m.name)\n"
        "ours = {'relay', 'config', 'bounces', 'dns_checks'}\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ours\n"
        "             and n != 'relay' and not n.startswith('relay.render')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"relay.render imports {done.stdout}"


# --- leaves do no I/O (issue 9 item 14): an AST check of what they import and call ----------

# Modules whose use means network, process, database or file-system I/O.
IO_MODULES = (
    "socket",
    "ssl",
    "sqlite3",
    "subprocess",
    "shutil",
    "dns.resolver",
    "dns.asyncresolver",
    "dns.query",
    "urllib.request",
    "http.client",
    "smtplib",
    "aiohttp",
    "aiosmtplib",
    "aiosmtpd",
)
# Methods that change the file system, whatever object they are called on (pathlib, os).
WRITE_METHODS = {"write_text", "write_bytes", "touch", "unlink", "mkdir", "makedirs", "rmdir"}
OS_IO = {"os.remove", "os.rename", "os.replace", "os.open", "os.system", "os.popen"}


def _dotted(node: ast.AST) -> str | None:
    """'dns.resolver.Resolver' for the expression dns.resolver.Resolver, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _is_io_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in IO_MODULES)


def _open_mode(call: ast.Call) -> str | None:
    """The mode of an open() / Path.open() call; None when it is not a constant."""
    is_builtin = isinstance(call.func, ast.Name)
    positional = 1 if is_builtin else 0  # open(path, mode) vs path.open(mode)
    mode: ast.AST | None = call.args[positional] if len(call.args) > positional else None
    mode = next((k.value for k in call.keywords if k.arg == "mode"), mode)
    if mode is None:
        return "r"
    return mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else None


def io_in_source(source: str) -> list[str]:
    """What in `source` does I/O: imports of IO_MODULES, their use as dotted names, writing
    opens, file-system changes, and imports of them by name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if _is_io_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [f"{line}: import {n}" for n in names if _is_io_module(n)]
        elif isinstance(node, ast.Attribute) and _is_io_module(_dotted(node) or ""):
            found.append(f"{line}: {_dotted(node)}")
        elif isinstance(node, ast.Call):
            found += _io_call(node)
    first_per_line = {f.partition(":")[0]: f for f in reversed(found)}
    return sorted(first_per_line.values(), key=lambda f: int(f.partition(":")[0]))


def _io_call(call: ast.Call) -> list[str]:
    line, name = call.lineno, _dotted(call.func) or ""
    method = call.func.attr if isinstance(call.func, ast.Attribute) else name
    if method == "open" or name in ("open", "io.open", "codecs.open"):
        mode = _open_mode(call)
        if mode is None or set(mode) & set("wax+"):
            return [f"{line}: {name or 'open'}(..., {mode!r})"]
    if method in WRITE_METHODS or name in OS_IO:
        return [f"{line}: {name or method}()"]
    if method in ("import_module", "__import__") and call.args:
        target = call.args[0]
        if isinstance(target, ast.Constant) and _is_io_module(str(target.value)):
            return [f"{line}: import_module({target.value!r})"]
    return []


def test_the_io_check_finds_what_it_looks_for() -> None:
    """The check below could pass by finding nothing: here is each thing it must find."""
    source = (
        "import socket\nimport dns.resolver as r\nfrom dns import query\n"
        "from sqlite3 import connect\nimport dns\nx = dns.asyncresolver.Resolver()\n"
        "open(p, 'w')\nopen(p, mode='a')\nopen(p, m)\npath.open('wb')\n"
        "path.write_text('x')\np.write_bytes(b'')\nos.remove(p)\n"
        "importlib.import_module('subprocess')\n"
        "open(p)\nopen(p, 'rb')\npath.open('rb')\npath.read_text()\n'a'.replace('a', 'b')\n"
    )
    found = io_in_source(source)
    assert len(found) == 13, found
    assert not any(line.startswith(("15:", "16:", "17:", "18:", "19:")) for line in found)


@pytest.mark.parametrize("leaf", [*LEAVES, "relay/render"])
def test_leaf_packages_do_no_io(leaf: str) -> None:
    """Leaves take what they need as arguments (a resolver, bytes, text): no sockets, no
    database, no DNS queries of their own, no processes, no files written."""
    problems = []
    for path in sorted((ROOT / leaf).rglob("*.py")):
        problems += [f"{path.relative_to(ROOT)}:{p}" for p in io_in_source(path.read_text())]
    assert problems == [], "I/O in a leaf package:\n" + "\n".join(problems)


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    # list_commands/get_command, not `group.commands`: the top group loads its commands lazily
    # (relay.cli.LazyGroup), so its `commands` dict is empty and would check nothing.
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        path = f"{prefix} {name}".strip()
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


def test_every_command_has_help_and_a_readme_entry() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _commands(main)
    assert len(commands) > 20, commands  # every command and subcommand was looked at
    for path, command in commands:
        assert command.help or command.short_help, f"relay {path} has no help"
        top = path.split()[0]
        assert f"relay {top}" in readme, f"README does not mention relay {top}"


def test_relay_toml_at_the_root_is_the_embedded_default() -> None:
    """The repository's relay.toml is what `relay init` writes (and what the README's first
    command runs with): one set of defaults and comments, kept true to config/schema.py."""
    from config import default_toml, load_config

    assert (ROOT / "relay.toml").read_text() == default_toml()
    load_config(ROOT / "relay.toml")  # every key in it is known and valid
