"""The mapping file's schema check: the compiled predicate answers for a well-formed file
(so ``jsonschema`` is neither asked nor imported), and is never sure of a file
``jsonschema`` refuses. Checked on the shipped mappings and on variants one edit away from
them (a key removed, a value of another type, an unknown key), at every place in them."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from json_places import places

from mapwire.contracts.schema_predicate import compile_predicate
from mapwire.language.planner import mapping_schema
from mapwire.language.yaml_loader import load

SHIPPED = sorted(
    p for p in (Path(__file__).parents[2] / "mappings").glob("*.yaml") if ".test." not in p.name
)
OTHER_VALUES: list[Any] = [1, 2.5, "x", "", None, True, [], {}, ["a", "a"], [{}]]


def document(path: Path) -> Any:
    value, _, problems = load(path.read_text("utf-8"), str(path))
    assert not problems
    return value


def edited(doc: Any, path: tuple[Any, ...], how: str, new: Any = None) -> Any:
    out = copy.deepcopy(doc)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    if how == "remove":
        del parent[path[-1]]
    elif how == "set":
        parent[path[-1]] = new
    else:  # an unknown key beside the others
        target = parent[path[-1]] if path else out
        if not isinstance(target, dict):
            return None
        target["zz_unknown"] = 1
    return out


def variants(doc: Any) -> Iterator[Any]:
    """One edit at each place, the kinds of edit and the values taken in turn."""
    for i, path in enumerate(places(doc)):
        how = ("set", "remove", "key")[i % 3] if path else "key"
        variant = edited(doc, path, how, OTHER_VALUES[(i // 3) % len(OTHER_VALUES)])
        if variant is not None:
            yield variant


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_quick_check_is_sure_of_shipped_files_and_never_of_broken_ones(path: Path) -> None:
    quick = compile_predicate(mapping_schema())
    full = jsonschema.Draft202012Validator(mapping_schema())
    doc = document(path)
    assert quick(doc) and full.is_valid(doc)
    answers = [(quick(variant), full.is_valid(variant)) for variant in variants(doc)]
    assert all(valid for sure, valid in answers if sure)  # never more lenient
    # and, on mapping files, never unsure: each variant is answered without jsonschema
    assert all(sure for sure, valid in answers if valid)
    assert sum(v for _, v in answers) > 10 and sum(not v for _, v in answers) > 10


def test_validating_a_well_formed_mapping_imports_no_jsonschema() -> None:
    code = (
        "import sys\n"
        "from mapwire.runtime.mapping_files import compile_with_plugins, resolve_mapping\n"
        "compile_with_plugins(resolve_mapping('mparticle-events-to-customerio'))\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
