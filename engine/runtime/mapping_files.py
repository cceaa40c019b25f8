"""Finding mapping files (given paths, or those shipped by plugins) and compiling them
with everything the loaded plugins provide."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..contracts.errors import SpecError
from ..language.mapping_names import (
    MappingIndex,
    index_mappings,
    is_cases_file,
    is_mapping_file,
)
from ..language.plan import Plan
from ..language.planner import compile_text, load_plan
from ..language.schema_errors import did_you_mean
from .registry import Registry, get_registry

UNKNOWN_FUNCTION = "E202"


def find_files(paths: Iterable[Path], *, cases: bool = False) -> list[Path]:
    """Mapping files (or, with ``cases``, test-case files) under the given files/folders."""
    found: list[Path] = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for p in candidates:
            inner = p.parts[len(path.parts) : -1] if path.is_dir() else ()
            # Hidden and private folders are skipped, and `samples/` holds inputs, not specs.
            if any(part.startswith((".", "__")) or part == "samples" for part in inner):
                continue
            if cases and is_cases_file(p):
                found.append(p)
            elif not cases and is_mapping_file(p):
                if p.is_dir() or p.name.startswith("_"):
                    continue
                found.append(p)
    return list(dict.fromkeys(found))


def shipped_paths(registry: Registry | None = None) -> list[Path]:
    """Folders of mapping specs that plugins (the built-in ones included) ship."""
    return (registry or get_registry()).mapping_paths()


def compile_with_plugins(path: Path, registry: Registry | None = None) -> Plan:
    """Compile a mapping, checking functions, destination, actions, fields and source.

    An unknown function while a plugin failed to load names that plugin: the function
    may be one it would have provided.
    """
    reg = registry or get_registry()
    return _noting_failed_plugins(reg, lambda: load_plan(path, **_provided(reg)))


def compile_text_with_plugins(text: str, file: str, registry: Registry | None = None) -> Plan:
    """``compile_with_plugins`` for mapping text not (or not yet) saved as ``file``: an
    editor's buffer."""
    reg = registry or get_registry()
    return _noting_failed_plugins(reg, lambda: compile_text(text, file, **_provided(reg)))


def _provided(registry: Registry) -> dict[str, Any]:
    return {
        "functions": registry.functions(),
        "destinations": registry.destinations(),
        "sources": registry.sources(),
    }


def _noting_failed_plugins(registry: Registry, compile_plan: Callable[[], Plan]) -> Plan:
    try:
        return compile_plan()
    except SpecError as exc:
        if not registry.failed:
            raise
        note = failed_plugins_note(registry)
        problems = [
            replace(p, message=f"{p.message} — {note}") if p.code == UNKNOWN_FUNCTION else p
            for p in exc.problems
        ]
        raise SpecError(problems) from exc


def failed_plugins_note(registry: Registry) -> str:
    """``plugin 'x' failed to load: ImportError; run `mapwire plugins``` (all of them)."""
    failed = [f"{f.name!r} failed to load: {f.error_type or f.error}" for f in registry.failed]
    return f"plugin {'; plugin '.join(failed)}; run `mapwire plugins`"


def search_path_index(extra: Iterable[Path] = (), registry: Registry | None = None) -> MappingIndex:
    """The mappings in ``extra`` (files or folders) and in the folders plugins register,
    by name, with a problem for every name defined twice."""
    return index_mappings(find_files([*extra, *shipped_paths(registry)]))


def resolve_mapping(ref: str, registry: Registry | None = None) -> Path:
    """A mapping given as a path, or as the ``name:`` of a shipped mapping.

    Raises ``SpecError`` when two mappings on the search path share a name."""
    p = Path(ref)
    if p.exists():
        return p
    index = search_path_index(registry=registry)
    if index.problems:
        raise SpecError(index.problems)
    if ref in index.by_name:
        return index.by_name[ref].path
    hint = did_you_mean(ref, sorted(index.by_name))
    raise FileNotFoundError(f"no mapping file or shipped mapping named {ref!r}{hint}")
