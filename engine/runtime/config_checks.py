"""The checks of a config file beyond its JSON Schema: what only the plugins know.

Every flow exists and compiles, every flow setting is valid for its flow, destination
settings match the destination's settings schema, every ``{env: NAME}`` is set, and no
secret is written in the file (a warning). The checks look only at the parts of the file
whose shape the schema accepted (``refused`` lists where it did not), so one run reports
everything that can be found; a connection with an unknown flow still has its
destination settings and secrets checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from ..contracts.errors import Problem, SpecError
from ..language.mapping_settings import setting_type_error
from ..language.plan import Plan
from ..language.schema_errors import did_you_mean
from ..language.yaml_loader import Path, Positions
from .config_secrets import declared_secrets, literal_auth_secrets, literal_secrets
from .destination_settings_check import destination_problems, fitting_destinations
from .mapping_files import compile_with_plugins, find_files, search_path_index
from .registry import Registry

#: Stands in for a secret whose environment variable is missing (already reported), so
#: the same value does not draw a second, confusing error from the settings schema.
UNSET = "<unset>"


class ConfigChecker:
    """The problems (and warnings) found so far in one config file, and the checks."""

    def __init__(self, positions: Positions, base: FsPath, registry: Registry) -> None:
        self.positions = positions
        self.base = base
        self.registry = registry
        self.problems: list[Problem] = []
        self._flows: dict[str, FsPath] | None = None
        self.extra_mappings: list[FsPath] = []
        self._plans: dict[FsPath, Plan | SpecError] = {}
        self.reported: set[FsPath] = set()
        #: Where the config schema found a problem: no further check looks at or inside.
        self.refused: list[Path] = []
        self.warnings: list[Problem] = []
        #: ``server.auth`` with every ``{env: NAME}`` resolved.
        self.auth: dict[str, Any] = {}

    def clean(self, *path: str | int) -> bool:
        """Whether nothing at or inside ``path`` was refused by the config schema."""
        return not any(r[: len(path)] == path for r in self.refused)

    def problem(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.problems.append(self.positions.problem(path, code, message, key=key))

    def resolve(self, value: Any, path: Path) -> Any:
        """A plain value, or the environment variable an ``{env: NAME}`` names."""
        if isinstance(value, dict) and "env" in value:
            name = value["env"]
            if not isinstance(name, str):  # refused by the schema already
                return UNSET
            found = os.environ.get(name, value.get("default"))
            if found is None:
                self.problem(path, "C201", f"environment variable {name} is not set")
                return UNSET
            return found
        return value

    def flows(self) -> dict[str, FsPath]:
        if self._flows is None:
            index = search_path_index(self.extra_mappings, self.registry)
            self.problems.extend(index.problems)
            self._flows = index.paths()
        return self._flows

    def compiled(self, file: FsPath) -> Plan | SpecError:
        """The mapping at ``file`` compiled (once), or the error listing its problems."""
        key = file.resolve()
        if key not in self._plans:
            try:
                self._plans[key] = compile_with_plugins(file, self.registry)
            except SpecError as exc:
                self._plans[key] = exc
        return self._plans[key]

    def check_mapping_folders(self) -> None:
        """Names on the whole search path, then every file of the ``mappings:`` folders
        in full: all their problems at once, not the first of the first bad file."""
        self.flows()
        for file in find_files(self.extra_mappings):
            result = self.compiled(file)
            if isinstance(result, SpecError):
                self.problems.extend(result.problems)
                self.reported.add(file.resolve())

    def plan_for(self, flow: str, path: Path) -> Plan | None:
        candidate = (self.base / flow) if flow.endswith((".yaml", ".yml", ".json")) else None
        file = candidate if candidate is not None and candidate.exists() else self.flows().get(flow)
        if file is None:
            hint = did_you_mean(flow, self.flows())
            self.problem(path, "C101", f"unknown flow {flow!r}{hint}")
            return None
        result = self.compiled(file)
        if isinstance(result, SpecError):
            if file.resolve() not in self.reported:
                self.problem(path, "C102", f"flow {flow!r} is invalid: {result.problems[0]}")
            return None
        return result

    def settings(self, plan: Plan, given: Mapping[str, Any], path: Path) -> dict[str, Any]:
        resolved = {n: d.default for n, d in plan.settings.items()}
        for name, value in given.items():
            decl = plan.settings.get(name)
            if decl is None:
                hint = did_you_mean(name, plan.settings)
                self.problem(
                    (*path, name),
                    "C103",
                    f"flow {plan.name!r} has no setting {name!r}{hint}",
                    key=True,
                )
                continue
            err = setting_type_error(decl, value)
            if err:
                self.problem((*path, name), "C104", err)
                continue
            resolved[name] = value
        return resolved

    def destination_settings(
        self, destination: str | None, given: Mapping[str, Any], path: Path, left_out: set[str]
    ) -> dict[str, Any]:
        """``given`` with every ``{env: NAME}`` resolved, checked against the settings
        schema of ``destination`` (None: the flow is unknown; see ``destination_problems``).
        ``left_out``: settings given but refused by the config schema (not missing)."""
        values = {k: self.resolve(v, (*path, k)) for k, v in given.items()}
        self.problems += destination_problems(
            self.positions, self.registry, destination, values, path, left_out
        )
        return values

    def connection(self, raw: Mapping[str, Any], where: Path, flows_known: bool) -> Checked:
        """Every check one connection's entries allow (those the schema refused are left
        out); its flow's plan and resolved settings (no plan: it cannot be built)."""

        def shaped(key: str, kind: type) -> bool:
            return isinstance(raw.get(key), kind) and self.clean(*where, key)

        plan = None
        if flows_known and shaped("flow", str):
            plan = self.plan_for(raw["flow"], (*where, "flow"))
        settings: dict[str, Any] = {}
        if plan is not None:
            given = raw["settings"] if shaped("settings", dict) else {}
            settings = self.settings(plan, given, (*where, "settings"))
        destination: dict[str, Any] = {}
        given = raw.get("destination", {})
        if isinstance(given, dict):  # the values the schema refused are left out
            at = (*where, "destination")
            kept = {k: v for k, v in given.items() if self.clean(*at, k)}
            named = plan.destination if plan else None
            destination = self.destination_settings(named, kept, at, set(given) - set(kept))
        source = {}
        if shaped("source", dict):
            source = {k: self.resolve(v, (*where, "source", k)) for k, v in raw["source"].items()}
        fits = [plan.destination] if plan else fitting_destinations(self.registry, destination)
        secrets = declared_secrets(self.registry, fits or None)
        every = declared_secrets(self.registry)
        self.warnings += literal_secrets(self.positions, raw, where, secrets, every)
        return plan, settings, destination, source


#: A connection's plan (None: unknown or invalid flow), settings, destination and source.
Checked = tuple[Plan | None, dict[str, Any], dict[str, Any], dict[str, Any]]


def check_config(checker: ConfigChecker, value: Mapping[str, Any]) -> list[tuple[Any, Checked]]:
    """Every check the file's shape allows; each connection's entry and what it checked."""
    flows_known = checker.clean("mappings")
    if flows_known:
        checker.extra_mappings = [checker.base / m for m in value.get("mappings", [])]
    checker.check_mapping_folders()
    raws = value.get("connections")
    checked = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raws if isinstance(raws, list) else []):
        where: Path = ("connections", i)
        if not isinstance(raw, dict):
            continue
        name = raw.get("name")
        if isinstance(name, str) and name in seen:
            message = f"duplicate connection name {name!r} (also #{seen[name] + 1})"
            checker.problem((*where, "name"), "C108", message)
        if isinstance(name, str):
            seen[name] = i
        checked.append((raw, checker.connection(raw, where, flows_known)))
    server = value.get("server")
    given = server.get("auth") if isinstance(server, dict) else None
    if isinstance(given, dict) and checker.clean("server", "auth"):
        auth = {k: checker.resolve(v, ("server", "auth", k)) for k, v in given.items()}
        checker.auth = auth
        for key in ("bearer_token", "username", "password"):
            if isinstance(auth.get(key), str) and not auth[key].strip():  # an empty env var
                checker.problem(("server", "auth", key), "C202", f"server.auth.{key} is empty")
        checker.warnings += literal_auth_secrets(checker.positions, given)
    return checked
