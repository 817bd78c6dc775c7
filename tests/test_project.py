"""Project rules: lint, the leaf-package rule, and CLI help that the README mentions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from relay.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_lint_and_format_are_clean() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run([*ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [*ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.parametrize("leaf", ["bounces", "dns_checks", "config"])
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


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


def test_every_command_has_help_and_a_readme_entry() -> None:
    readme = (ROOT / "README.md").read_text()
    for path, command in _commands(main):
        assert command.help or command.short_help, f"relay {path} has no help"
        top = path.split()[0]
        assert f"relay {top}" in readme, f"README does not mention relay {top}"


def test_relay_toml_at_the_root_is_the_embedded_default() -> None:
    """The repository's relay.toml is what `relay init` writes (and what the README's first
    command runs with): one set of defaults and comments, kept true to config/schema.py."""
    from config import default_toml, load_config

    assert (ROOT / "relay.toml").read_text() == default_toml()
    load_config(ROOT / "relay.toml")  # every key in it is known and valid
