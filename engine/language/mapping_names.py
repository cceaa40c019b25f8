"""Every mapping on the search path, by its ``name:``; two files with one name is an error.

The search path is whatever the caller looks through: the folders plugins register
(the shipped mappings among them), a config's ``mappings:`` folders, the paths given to
``validate``. A name is never resolved by "first found wins": the second file claiming a
name gets ``E110 mapping name 'x' is also defined in OTHER_FILE:line``. Identical copies
(a plugin's source folder and its installed package) are one mapping, not a clash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..contracts.errors import Problem
from .yaml_loader import load

DUPLICATE_NAME = "E110"
MAPPING_SUFFIXES = (".yaml", ".yml", ".json")
CASES_SUFFIXES = (".test.yaml", ".test.yml")


def is_cases_file(path: Path) -> bool:
    """Whether ``path`` names a test file (cases), not a mapping."""
    return path.name.endswith(CASES_SUFFIXES)


def is_mapping_file(path: Path) -> bool:
    """Whether ``path`` names a mapping file by its suffix (a test file does not)."""
    return path.suffix in MAPPING_SUFFIXES and not is_cases_file(path)


@dataclass(frozen=True)
class NamedMapping:
    """Where a mapping's ``name:`` is written."""

    name: str
    path: Path
    line: int
    col: int


@dataclass
class MappingIndex:
    """The mappings found by name, and the duplicate-name problems."""

    by_name: dict[str, NamedMapping]
    problems: list[Problem]

    def paths(self) -> dict[str, Path]:
        return {name: m.path for name, m in self.by_name.items()}


def read_name(path: Path) -> NamedMapping | None:
    """The ``name:`` a mapping file declares, or None (unreadable, invalid, unnamed)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    value, positions, problems = load(text, str(path))
    if problems or not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    line, col = positions.of(("name",))
    return NamedMapping(value["name"], path, line, col)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def index_mappings(files: Iterable[Path]) -> MappingIndex:
    """Index ``files`` (in search order) by name; later files claiming a taken name are
    reported, naming the file that claimed it first. The same file reached twice (through
    two spellings of its path), or an identical copy of it, is one mapping."""
    by_name: dict[str, NamedMapping] = {}
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in files:
        real = path.resolve()
        if real in seen:
            continue
        seen.add(real)
        found = read_name(path)
        if found is None:
            continue
        first = by_name.get(found.name)
        if first is None:
            by_name[found.name] = found
            continue
        if _same_bytes(first.path, found.path):
            continue  # a copy (e.g. a plugin's source next to its installed package)
        problems.append(
            Problem(
                str(found.path),
                found.line,
                found.col,
                DUPLICATE_NAME,
                f"mapping name {found.name!r} is also defined in {first.path}:{first.line}",
                suggestion="give one of the two mappings another name, or remove one of the "
                "folders from the search path",
            )
        )
    return MappingIndex(by_name, problems)
