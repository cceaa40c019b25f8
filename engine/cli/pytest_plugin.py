"""pytest collects mapping test cases (``*.test.yaml``) as tests.

Installed with mapwire (entry point ``pytest11``), so integrators' own CI runs their mapping
cases with a plain ``pytest``. Each case is one test item named by the case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..language.cases import Case, check_case, load_cases
from ..language.mapping_names import is_cases_file
from ..runtime.mapping_files import compile_with_plugins
from ..runtime.registry import get_registry
from ..runtime.source_shapes import refusal


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_cases_file(file_path):
        return MappingCasesFile.from_parent(parent, path=file_path)
    return None


class MappingCaseFailure(Exception):
    pass


class MappingCasesFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        cases_file = load_cases(self.path)
        plan = compile_with_plugins(cases_file.mapping)
        for case in cases_file.cases:
            yield MappingCaseItem.from_parent(self, name=case.name, case=case, plan=plan)


class MappingCaseItem(pytest.Item):
    def __init__(self, *, case: Case, plan: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.plan = plan

    def runtest(self) -> None:
        failures = check_case(
            self.plan, self.case, get_registry().destinations(), refusal(self.plan)
        )
        if failures:
            raise MappingCaseFailure("\n".join(failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MappingCaseFailure):
            return f"mapping case {self.case.name!r} failed:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"mapping case: {self.name}"
