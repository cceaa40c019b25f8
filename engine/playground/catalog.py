"""What the page offers to pick: the mappings the loaded plugins ship (by name), the
sample documents beside them (``samples/*.json``) and every case of their test files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..contracts.errors import SpecError
from ..language.cases import load_cases
from ..runtime.mapping_files import find_files, search_path_index, shipped_paths
from ..runtime.registry import Registry


@dataclass(frozen=True)
class Sample:
    """An input to paste: a sample file, or a test case (its inputs and settings)."""

    id: str
    label: str
    input: str
    mapping: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


def _as_text(inputs: list[Any]) -> str:
    if len(inputs) == 1:
        return json.dumps(inputs[0], indent=2, ensure_ascii=False)
    return "\n".join(json.dumps(doc, ensure_ascii=False) for doc in inputs)


class Catalog:
    """The shipped and installed mappings by name, and the samples, read once."""

    def __init__(self, registry: Registry) -> None:
        self.mappings = search_path_index(registry=registry).paths()
        names = {path.resolve(): name for name, path in self.mappings.items()}
        self.samples: list[Sample] = []
        folders = shipped_paths(registry)
        for folder in folders:
            for path in sorted((folder / "samples").glob("*.json")):
                self.samples.append(
                    Sample(f"sample:{path.name}", path.name, path.read_text("utf-8"))
                )
        for path in find_files(folders, cases=True):
            try:
                cases = load_cases(path)
            except (SpecError, OSError, ValueError):
                continue
            mapping = names.get(cases.mapping, "")
            for i, case in enumerate(cases.cases):
                self.samples.append(
                    Sample(
                        f"case:{path.name}:{i}",
                        f"{path.name}: {case.name}",
                        _as_text(case.inputs),
                        mapping,
                        case.settings,
                    )
                )

    def mapping_list(self) -> list[dict[str, str]]:
        return [{"name": name, "file": path.name} for name, path in sorted(self.mappings.items())]

    def mapping_text(self, name: str) -> tuple[str, str] | None:
        """(file name, text) of the mapping named ``name``, or None if there is none."""
        path = self.mappings.get(name)
        if path is None:
            return None
        return path.name, path.read_text("utf-8")

    def sample_list(self) -> list[dict[str, Any]]:
        return [
            {"id": s.id, "label": s.label, "mapping": s.mapping, "settings": s.settings}
            for s in self.samples
        ]

    def sample(self, sample_id: str) -> Sample | None:
        return next((s for s in self.samples if s.id == sample_id), None)
