"""Find regular expressions that backtrack on hostile text: every pattern of a package, tried on
strings made of its own pieces, each search timed.

Python's `re` backtracks; a pattern such as `^.+@.+<mailto:(.+@.+)>` costs O(n^4) on a line of
"@<mailto:" repeats, and `^\\s*(?:The )` with re.M O(n^2) on blank lines. Such costs show only
on inputs built from the pattern's own literals and classes, so this module builds them: every
literal run and a member of every character class of the pattern (its "atoms"), then each atom,
each run of up to three consecutive atoms, each pair of atoms, repeated to a given size, after
the pattern's leading literal or not, on one line or one per line.

A linear search over 20,000 characters takes well under a millisecond to a few; a quadratic one
a second or more, a cubic one hours: `python -m tests.redos bounces` prints every (pattern,
input) slower than the limit, and the test runs it in a child process with a deadline (a
catastrophic pattern holds the GIL, so nothing but a process can be stopped from outside).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import itertools
import pkgutil
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from re import _compiler as sre_compiler  # type: ignore[attr-defined]
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from types import ModuleType

SIZE = 20_000
LIMIT = 0.25  # seconds for one search; linear ones take < 0.01 s even on a loaded machine
_REPRESENTATIVES = "a0 @<>:.-\n\t(\"'=;,/[]{}*+?|\\_#"
_CATEGORY = {
    sre_constants.CATEGORY_DIGIT: "0",
    sre_constants.CATEGORY_NOT_DIGIT: "a",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: "a",
    sre_constants.CATEGORY_WORD: "a",
    sre_constants.CATEGORY_NOT_WORD: " ",
}


@dataclasses.dataclass(frozen=True)
class Found:
    where: str  # module and name (or line) of the pattern
    pattern: re.Pattern


def patterns_of(package: str) -> list[Found]:
    """Every compiled pattern in the modules of `package` (or in the module itself): module
    globals, and inside tuples, lists, dicts and dataclasses there, and every literal pattern
    given inline to a function of `re` (`re.sub(r"...", ...)`)."""
    found: dict[tuple[object, int], Found] = {}
    for module in _modules(package):
        for name, value in vars(module).items():
            for pattern in _compiled_in(value, depth=0):
                key = (pattern.pattern, pattern.flags)
                found.setdefault(key, Found(f"{module.__name__}.{name}", pattern))  # type: ignore[arg-type]
        for line, pattern in _inline_patterns(module):
            key = (pattern.pattern, pattern.flags)
            found.setdefault(key, Found(f"{module.__name__}:{line}", pattern))  # type: ignore[arg-type]
    return list(found.values())


def _modules(package: str) -> Iterator[ModuleType]:
    root = importlib.import_module(package)
    yield root
    if not hasattr(root, "__path__"):
        return  # a module, not a package
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        yield importlib.import_module(info.name)


def _compiled_in(value: object, depth: int) -> Iterator[re.Pattern]:
    if depth > 4:
        return
    if isinstance(value, re.Pattern):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _compiled_in(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _compiled_in(item, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _compiled_in(getattr(value, item.name), depth + 1)


_RE_FUNCTIONS = {"compile", "search", "match", "fullmatch", "sub", "subn", "split", "findall"}
_RE_FUNCTIONS |= {"finditer"}


def _inline_patterns(module: ModuleType) -> Iterator[tuple[int, re.Pattern]]:
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Name) and owner.id == "re"):
            continue
        if node.func.attr not in _RE_FUNCTIONS or not node.args:
            continue
        source = node.args[0]
        if isinstance(source, ast.Constant) and isinstance(source.value, str | bytes):
            flags = _flags(node, module)
            yield node.lineno, re.compile(source.value, flags)


def _flags(call: ast.Call, module: ModuleType) -> int:
    given = [k.value for k in call.keywords if k.arg == "flags"]
    if call.func.attr in ("compile", "search", "match", "fullmatch", "findall", "finditer"):  # type: ignore[union-attr]
        given += call.args[1:2]
    if not given:
        return 0
    try:
        return int(eval(compile(ast.Expression(given[0]), "<flags>", "eval"), vars(module)))
    except Exception:
        return 0


def atoms(pattern: re.Pattern) -> list[str]:
    """The pattern's literal runs and one member of each of its classes, in pattern order."""
    text_pattern = isinstance(pattern.pattern, str)
    source = pattern.pattern if text_pattern else pattern.pattern.decode("latin-1")
    try:
        tree = sre_parse.parse(source, pattern.flags & ~re.ASCII if text_pattern else 0)
    except Exception:
        return list(_REPRESENTATIVES)
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append("".join(run))
            run.clear()

    def walk(items: object) -> None:
        for op, value in items:  # type: ignore[attr-defined]
            if op is sre_constants.LITERAL:
                run.append(chr(value))
                continue
            flush()
            if op is sre_constants.NOT_LITERAL:
                out.append("a" if chr(value) != "a" else "b")
            elif op is sre_constants.ANY:
                out.append("a")
            elif op is sre_constants.IN:
                out.append(_member(value, tree.state))
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT,
                        sre_constants.POSSESSIVE_REPEAT):  # fmt: skip
                walk(value[2])
                flush()
            elif op is sre_constants.SUBPATTERN:
                walk(value[-1])
                flush()
            elif op is sre_constants.ATOMIC_GROUP:
                walk(value)
                flush()
            elif op is sre_constants.BRANCH:
                for branch in value[1]:
                    walk(branch)
                    flush()
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                walk(value[1])
                flush()
        flush()

    walk(tree)
    return [a for a in dict.fromkeys(out) if a]


def _member(items: list, state: object) -> str:
    """A character the class matches: its first literal, range start or category member, or
    (negated) the first of a few common characters it does not exclude."""
    if not any(op is sre_constants.NEGATE for op, _ in items):
        for op, value in items:
            if op is sre_constants.LITERAL:
                return chr(value)
            if op is sre_constants.RANGE:
                return chr(value[0])
            if op is sre_constants.CATEGORY:
                return _CATEGORY.get(value, "a")
    single = sre_compiler.compile(sre_parse.SubPattern(state, [(sre_constants.IN, items)]))
    return next((c for c in "a0 .@-:;<>\t\n" if single.match(c)), "a")


def hostile_inputs(pattern: re.Pattern, size: int = SIZE) -> Iterator[tuple[str, str]]:
    """(description, text) pairs built from the pattern's atoms, each about `size` long."""
    parts = atoms(pattern)
    lead = parts[0] if parts else ""
    units: dict[str, None] = {}
    for width in (1, 2, 3):
        for start in range(len(parts) - width + 1):
            units["".join(parts[start : start + width])] = None
    for a, b in itertools.permutations(parts[:24], 2):
        units[a + b] = None
    for unit in [*units, " ", "\n", "\t", "a"]:
        repeat = max(1, size // max(1, len(unit)))
        for prefix in ("", lead):
            for tail in ("", "\n"):
                text = prefix + (unit + tail) * (repeat // (2 if tail else 1)) + "\x00"
                yield f"{prefix!r} + ({unit + tail!r}) * {repeat}", text


def slow_searches(found: Found, size: int = SIZE, limit: float = LIMIT) -> list[str]:
    """What made one search of `found` slower than `limit` seconds (empty: none did)."""
    slow = []
    binary = isinstance(found.pattern.pattern, bytes)
    for description, text in hostile_inputs(found.pattern, size):
        subject: str | bytes = text.encode("latin-1", "replace") if binary else text
        took = _search_time(found.pattern, subject)
        if took > limit:  # again, twice: a busy machine may stall one run, not three
            took = min(took, *(_search_time(found.pattern, subject) for _ in range(2)))
        if took > limit:
            slow.append(f"{found.where} {found.pattern.pattern!r}: {took:.2f} s on {description}")
    return slow


def _search_time(pattern: re.Pattern, subject: str | bytes) -> float:
    started = time.perf_counter()
    pattern.search(subject)  # type: ignore[arg-type]
    return time.perf_counter() - started


def main(package: str) -> int:
    """Print each pattern's name before it is tried (a hang then names it), and every slow one."""
    failures = 0
    for found in patterns_of(package):
        print(f"trying {found.where}", flush=True)
        for line in slow_searches(found):
            print(f"SLOW {line}", flush=True)
            failures += 1
    print(f"done: {failures} slow", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bounces"))
