"""Saving the mapping and a test case made from the current input and output, to files
under the save folder and never outside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..contracts.errors import SpecError
from ..language.cases import load_cases

MAPPING_SUFFIXES = (".yaml", ".yml")


class SaveRefused(ValueError):
    """A name that would write outside the save folder, or not a mapping file name."""


def inside(save_dir: Path, name: str) -> Path:
    """The file ``name`` (relative, a .yaml/.yml name) under ``save_dir``; refuses absolute
    names, ``..``, and links that lead outside it."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\0" in name:
        raise SaveRefused(f"{name!r}: give a file name relative to the save folder")
    if not name.endswith(MAPPING_SUFFIXES) or name.endswith((".test.yaml", ".test.yml")):
        raise SaveRefused(f"{name!r}: a mapping file name ends in .yaml or .yml")
    root = save_dir.resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root) or target == root:
        raise SaveRefused(f"{name!r} is outside the save folder")
    return target


def cases_path(mapping: Path) -> Path:
    return mapping.with_name(f"{mapping.stem}.test{mapping.suffix}")


def save_mapping(save_dir: Path, name: str, text: str) -> Path:
    target = inside(save_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, "utf-8")
    return target


def _case_yaml(case: dict[str, Any]) -> str:
    # JSON inside YAML flow style keeps every value exact (ids, unicode) and is valid YAML.
    text = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"  {line}\n" for line in text.splitlines())


def save_case(
    save_dir: Path,
    name: str,
    case_name: str,
    inputs: list[Any],
    settings: dict[str, Any],
    expect: dict[str, Any],
) -> Path:
    """Add one case to ``<mapping>.test.yaml`` beside the mapping ``name`` (created with
    ``mapping:`` and ``cases:`` if missing; an existing file gets the case appended and
    must still read as a cases file, else it is left unchanged)."""
    mapping = inside(save_dir, name)
    target = cases_path(mapping)
    case: dict[str, Any] = {"name": case_name}
    if settings:
        case["settings"] = settings
    case.update({"input": inputs[0]} if len(inputs) == 1 else {"inputs": inputs})
    case["expect"] = expect
    block = _case_yaml(json.loads(json.dumps(case)))
    if target.exists():
        before = target.read_text("utf-8")
        count = len(load_cases(target).cases)
        text = before + ("" if before.endswith("\n") else "\n") + block
    else:
        before, count = None, 0
        text = f"mapping: {mapping.name}\ncases:\n{block}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, "utf-8")
    try:
        ok = len(load_cases(target).cases) == count + 1
    except SpecError:
        ok = False
    if not ok:
        if before is None:
            target.unlink()
        else:
            target.write_text(before, "utf-8")
        raise SaveRefused(f"{target.name}: the case could not be appended (is `cases:` last?)")
    return target
