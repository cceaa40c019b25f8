"""The tests need nothing outside the repository: a fresh clone with nothing beside it runs
them all. Every file under ``tests/`` (Python, YAML, JSON, TOML, cfg/ini) is checked for
paths that leave the repository root:

* string values that climb with a ``..`` segment, start at the home folder (``~/``), are
  ``file:`` URLs, Windows drive paths, or absolute paths under a filesystem root
  (``/work``, ``/tmp``, ``/home``, ``/usr``, ...; HTTP paths such as ``/api/v1/...`` are not
  filesystem roots and pass);
* in Python, ``Path.home()`` and ``expanduser``, and paths computed from ``__file__``
  (``Path(__file__).resolve().parents[N]``, ``.parent`` chains, ``os.path.dirname``, names
  bound to such paths, ``/ ".."``) that go above the repository root, given the file's depth.

Temporary folders come from pytest's ``tmp_path``; vendor files from ``tests/vendor`` (whose
data is upstream's, verbatim, and not scanned: ``test_vendor_sources.py`` checks it). A
Python line that must hold such a string without reading it (a URL parser's expected
result, a path that must fail to open) says why in a ``# self-contained: <reason>`` comment.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = REPO_ROOT / "tests"
VENDOR = TESTS / "vendor"
SUFFIXES = frozenset({".py", ".yaml", ".yml", ".json", ".toml", ".cfg", ".ini"})
EXEMPT = re.compile(r"#\s*self-contained:\s*\S")

FILESYSTEM_ROOTS = frozenset(
    {
        *("work", "tmp", "home", "root", "var", "etc", "opt", "srv", "mnt", "media", "usr"),
        *("bin", "sbin", "lib", "lib64", "proc", "sys", "dev", "run", "boot", "snap", "nix"),
        *("private", "Users", "Volumes", "Applications", "Library", "System"),
    }
)
"""First segments of absolute paths that name a place on this machine, not in the repo."""

CLIMB = re.compile(r"(?<![\w.])\.\.(?:[\\/]|$)")
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


CLIMBS = "climbs out with '..'"


def stays_inside(data_file: Path, relative: str) -> bool:
    """Whether ``relative``, read from ``data_file``'s folder, stays in the repository."""
    target = (data_file.parent / relative).resolve()
    return target.is_relative_to(REPO_ROOT)


def string_problem(text: str) -> str | None:
    """Why a string names a path outside the repository, or None."""
    if CLIMB.search(text):
        return CLIMBS
    if text.startswith(("~/", "~\\")):  # self-contained: a pattern, not a path
        return "names the home folder"
    if text.lower().startswith("file:"):  # self-contained: a pattern, not a path
        return "is a file: URL"
    if WINDOWS_DRIVE.match(text):
        return "is an absolute Windows path"
    if text.startswith("/") and text.split("/")[1] in FILESYSTEM_ROOTS:
        return "is an absolute path on this machine"
    return None


def shorten(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# -- Python: paths computed from __file__ ---------------------------------------------------


class PythonChecker(ast.NodeVisitor):
    """Finds the problems in one Python source whose file sits ``depth`` folders below the
    repository root (``tests/x.py`` has depth 1)."""

    def __init__(self, depth: int) -> None:
        self.top = depth + 1
        """Steps up from the file that reach the repository root (the file itself is 0)."""
        self.bound: dict[str, int] = {}
        self.problems: list[tuple[int, str]] = []

    def steps_up(self, node: ast.expr) -> int | None:
        """How far above the file a path expression built from ``__file__`` points."""
        match node:
            case ast.Name(id="__file__"):
                return 0
            case ast.Name(id=name):
                return self.bound.get(name)
            case ast.Call(func=ast.Name(id="Path" | "PurePath"), args=[arg]):
                return self.steps_up(arg)
            case ast.Call(func=ast.Attribute(attr="resolve" | "absolute", value=inner)):
                return self.steps_up(inner)
            case ast.Call(func=ast.Attribute(attr="dirname" | "abspath" | "realpath") as f):
                up = self.steps_up(node.args[0]) if node.args else None
                if up is None:
                    return None
                return up + 1 if f.attr == "dirname" else up
            case ast.Attribute(attr="parent", value=inner):
                up = self.steps_up(inner)
                return None if up is None else up + 1
            case ast.Subscript(
                value=ast.Attribute(attr="parents", value=inner),
                slice=ast.Constant(value=int(index)),
            ):
                up = self.steps_up(inner)
                return None if up is None else up + index + 1
            case ast.BinOp(op=ast.Div(), left=left, right=ast.Constant(value=str(part))):
                up = self.steps_up(left)
                return None if up is None else self.walk(up, part)
            case ast.Call(func=ast.Attribute(attr="join"), args=[first, *rest]):
                up = self.steps_up(first)
                for part in rest:
                    if up is None or not isinstance(part, ast.Constant):
                        return None
                    up = self.walk(up, str(part.value))
                return up
        return None

    def walk(self, up: int, relative: str) -> int:
        """Steps up after following ``relative`` (the deepest point reached counts)."""
        highest = up
        for segment in re.split(r"[\\/]", relative):
            if segment == "..":  # self-contained: a pattern, not a path
                up += 1
                highest = max(highest, up)
            elif segment not in {"", "."}:
                up -= 1
        return highest

    def flag(self, node: ast.AST, message: str) -> None:
        self.problems.append((getattr(node, "lineno", 0), message))

    def check_path(self, node: ast.expr) -> None:
        up = self.steps_up(node)
        if up is not None and up > self.top:
            self.flag(node, f"goes {up - self.top} folder(s) above the repository root")

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        up = self.steps_up(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and up is not None:
                self.bound[target.id] = up

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        if isinstance(node.target, ast.Name) and node.value is not None:
            up = self.steps_up(node.value)
            if up is not None:
                self.bound[node.target.id] = up

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "parent":
            self.check_path(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.check_path(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.check_path(node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "home":
            self.flag(node, "uses the home folder (Path.home())")
        if isinstance(func, ast.Attribute | ast.Name) and (
            getattr(func, "attr", None) == "expanduser" or getattr(func, "id", None) == "expanduser"
        ):
            self.flag(node, "expands the home folder (expanduser)")
        self.check_path(node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            problem = string_problem(node.value)
            if problem:
                self.flag(node, f"{shorten(node.value)} {problem}")


def python_problems(source: str, depth: int) -> list[tuple[int, str]]:
    """``(line, message)`` for each path outside the repository in a Python source."""
    checker = PythonChecker(depth)
    checker.visit(ast.parse(source))
    lines = source.splitlines()
    return sorted(
        {
            (line, message)
            for line, message in checker.problems
            if not (0 < line <= len(lines) and EXEMPT.search(lines[line - 1]))
        }
    )


# -- data files ----------------------------------------------------------------------------


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a parsed document: keys and values, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def parse_data(path: Path) -> Any:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix in {".cfg", ".ini"}:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        return {name: dict(parser[name]) for name in parser.sections()}
    return list(yaml.safe_load_all(text))


def data_problems(path: Path) -> list[tuple[int, str]]:
    try:
        document = parse_data(path)
    except (ValueError, yaml.YAMLError, configparser.Error):
        return []  # deliberately broken fixtures (invalid YAML/JSON) have nothing to follow
    found = []
    for text in strings_in(document):
        problem = string_problem(text)
        if problem == CLIMBS and stays_inside(path, text):
            continue  # a data file's relative path is read from its own folder
        if problem:
            found.append((0, f"{shorten(text)} {problem}"))
    return found


# -- the check over the repository ---------------------------------------------------------


def files_under_tests() -> list[Path]:
    return sorted(
        path
        for path in TESTS.rglob("*")
        if path.suffix in SUFFIXES
        and path.is_file()
        and "__pycache__" not in path.parts
        and not path.is_relative_to(VENDOR)
    )


def problems_in(path: Path) -> list[str]:
    relative = path.relative_to(REPO_ROOT)
    if path.suffix == ".py":
        found = python_problems(path.read_text("utf-8"), len(relative.parts) - 1)
    else:
        found = data_problems(path)
    return [f"{relative}:{line}: {message}" for line, message in found]


def test_no_test_file_names_a_path_outside_the_repository() -> None:
    files = files_under_tests()
    assert any(path.name == "test_self_contained.py" for path in files)
    problems = [problem for path in files for problem in problems_in(path)]
    assert problems == []


# -- the checker catches what it must (planted examples) ----------------------------------

UP = "." + "."  # built, so this file's own literals stay clean
SHARED = f"{UP}/shared/vendor"


@pytest.mark.parametrize(
    ("depth", "source"),
    [
        (1, f"DIR = Path(__file__).parent / {SHARED!r}"),
        (1, f"open({SHARED + '/track.json'!r})"),
        (2, "ROOT = Path(__file__).resolve().parents[3]"),
        (3, "VENDOR = Path(__file__).resolve().parents[3].parent / 'shared'"),
        (1, "ROOT = Path(__file__).resolve().parents[2] / 'shared'"),
        (1, "X = Path(__file__).parent.parent.parent"),
        (2, "ROOT = Path(__file__).resolve().parents[2]\nOUT = ROOT.parent"),
        (2, f"ROOT = Path(__file__).resolve().parents[1]\nOUT = ROOT / {UP!r} / 'shared'"),
        (1, "D = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))"),
        (1, f"D = os.path.join(os.path.dirname(__file__), {UP!r}, {UP!r})"),
        (1, "P = Path.home() / 'data'"),
        (1, "P = os.path.expanduser('~') + '/x'"),
        (1, "P = '~/mapwire/config.yaml'"),
        (1, "P = Path('/" + "work/specs/track.json')"),
        (1, "P = '/" + "tmp/mapwire-fixture.db'"),
        (1, "P = '/" + "usr/bin/redis-server'"),
        (1, "P = 'file:/" + "//etc/mapwire.yaml'"),
        (1, "P = r'C:" + "\\data\\specs.json'"),
        (1, f'def f():\n    """Reads {SHARED}."""'),
        (1, "P = '/" + "var/lib/x.db'  # self-contained:"),
    ],
)
def test_checker_flags_a_planted_path(depth: int, source: str) -> None:
    assert python_problems(source, depth) != []


@pytest.mark.parametrize(
    ("depth", "source"),
    [
        (1, "ROOT = Path(__file__).resolve().parents[1]"),
        (3, "ROOT = Path(__file__).resolve().parents[3]\nM = ROOT / 'mappings'"),
        (2, "HERE = Path(__file__).parent\nS = HERE.parent / 'sqlite_store'"),
        (1, "D = os.path.dirname(os.path.dirname(__file__))"),
        (1, "client.get('/api/v1/customers/5')"),
        (1, "URL = 'sqlite:///state.db'"),
        (1, "P = tmp_path.parent.parent / 'x'"),
        (1, "E = 'foo..bar'"),
        (1, "E = 'a ... b'"),
        (1, "S = text.replace('~', '~0')"),
        (1, "P = '/" + "var/lib/x.db'  # self-contained: parsed, never opened"),
    ],
)
def test_checker_passes_paths_inside_the_repository(depth: int, source: str) -> None:
    assert python_problems(source, depth) == []


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".yaml", f"name: x\nspec: {SHARED}/track.json\n"),
        (".json", json.dumps({"fixture": {"path": "/" + "home/someone/specs.json"}})),
        (".toml", '[tool.x]\npaths = ["~/' + 'specs"]\n'),
        (".cfg", "[paths]\nspecs = /" + "work/shared\n"),
    ],
)
def test_checker_flags_a_planted_path_in_data_files(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"planted{suffix}"
    path.write_text(text, "utf-8")
    assert data_problems(path) != []
