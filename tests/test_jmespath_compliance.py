"""The official JMESPath compliance suite, run against the compiled expressions.

The case files are shared with the repository, not copied into it: they sit in
``<repo>/../shared/vendor/jmespath-compliance`` (see the README there for provenance).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import jmespath
import pytest

from mapwire.engine.jmespath_codegen import compile_expression

COMPLIANCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "vendor" / "jmespath-compliance"

# Extension or proposal files that the jmespath package itself does not pass (per the
# folder's README): let expressions, `$` variables, arithmetic, group_by(), extra string
# functions, `$` as the root node, and `["foo"]` as a field (which conflicts with 1.x).
NOT_IMPLEMENTED_BY_JMESPATH = frozenset(
    {
        "letexpr.json",
        "lexical_scoping.json",
        "arithmetic.json",
        "group_by_function.json",
        "string_functions.json",
        "rootnode.json",
        "bracketfield.json",
    }
)


def _cases() -> list[Any]:
    if not COMPLIANCE_DIR.is_dir():
        return [pytest.param(None, id="compliance-files-missing")]
    params = []
    for path in sorted(COMPLIANCE_DIR.glob("*.json")):
        if path.name in NOT_IMPLEMENTED_BY_JMESPATH:
            continue
        for g, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            for c, case in enumerate(group["cases"]):
                if "result" not in case and "error" not in case:
                    continue  # benchmark-only case, no expected value
                params.append(pytest.param((group["given"], case), id=f"{path.stem}:{g}:{c}"))
    return params


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _quietly(fn: Any, *args: Any) -> Any:
    # Some cases use the deprecated `foo` literal form, which jmespath warns about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return fn(*args)


def test_compliance_files_present() -> None:
    assert COMPLIANCE_DIR.is_dir(), (
        f"JMESPath compliance cases not found at {COMPLIANCE_DIR}; the shared folder "
        "must sit beside the repository checkout"
    )
    present = {p.name for p in COMPLIANCE_DIR.glob("*.json")}
    assert {"basic.json", "functions.json", "syntax.json"} <= present


@pytest.mark.parametrize("data", _cases())
def test_case(data: Any) -> None:
    if data is None:
        pytest.fail(f"JMESPath compliance cases not found at {COMPLIANCE_DIR}")
    given, case = data
    expression = case["expression"]
    if "result" in case:
        compiled = _quietly(compile_expression, expression)
        actual = compiled(given)
        assert _json(actual) == _json(case["result"]), compiled.source
        assert _json(actual) == _json(_quietly(jmespath.search, expression, given))
    else:
        with pytest.raises(ValueError):
            _quietly(compile_expression, expression)(given)
