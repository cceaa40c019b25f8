"""The official JMESPath compliance suite, run against the compiled expressions.

The case files are kept in the repository, under ``tests/vendor/jmespath-compliance``: the
JMESPath 1.x suite plus the historical ``ormatch.json`` (``tests/vendor/SOURCES.md`` says
where they come from; upstream's extension proposals are not kept).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import jmespath
import pytest
from contract_specs import VENDOR_DIR

from mapwire.language.jmespath_codegen import compile_expression

COMPLIANCE_DIR = VENDOR_DIR / "jmespath-compliance"

SUITE = frozenset(
    f"{name}.json"
    for name in [
        "basic",
        "benchmarks",
        "boolean",
        "current",
        "escape",
        "filters",
        "functions",
        "identifiers",
        "indices",
        "literal",
        "multiselect",
        "pipe",
        "slice",
        "syntax",
        "unicode",
        "wildcard",
        "ormatch",
    ]
)
"""The JMESPath 1.x compliance files, plus the historical ``ormatch.json``. Upstream's
extension proposals (let expressions, arithmetic, ...) are not kept: 1.x does not have them."""


def _cases() -> list[Any]:
    if not COMPLIANCE_DIR.is_dir():
        return [pytest.param(None, id="compliance-files-missing")]
    params = []
    for path in sorted(COMPLIANCE_DIR.glob("*.json")):
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
        f"JMESPath compliance cases not found at {COMPLIANCE_DIR}; they are part of the "
        "repository (tests/vendor/jmespath-compliance)"
    )
    assert {p.name for p in COMPLIANCE_DIR.glob("*.json")} == SUITE


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
