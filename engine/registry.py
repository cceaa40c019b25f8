"""Plugin discovery and the registries built from it.

The plugin manager is built on demand (``get_registry()``), never at import time. Every
plugin, built-in or third-party, is an entry point in the ``mapwire`` group and is loaded
one at a time: a plugin that fails to import or register is recorded with its error and
skipped, unless strict mode is on (``MAPWIRE_STRICT_PLUGINS=1`` or ``--strict-plugins``).
``MAPWIRE_LOAD_PLUGINS=a,b`` loads only the named entry points.

This module and the pipeline are the only places that call ``pm.hook``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from mapwire.engine import hookspecs
from mapwire.engine.destination import Destination
from mapwire.engine.errors import DuplicateNameError, PluginError
from mapwire.engine.queue import Queue
from mapwire.engine.source import Source
from mapwire.engine.store import StateStore

ENTRY_POINT_GROUP = "mapwire"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: where it came from and what it provides."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class FailedPlugin:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    error: str


@dataclass(frozen=True)
class FunctionDef:
    """A JMESPath function contributed by a plugin."""

    name: str
    function: Callable[..., Any]
    signature: tuple[Any, ...]
    plugin: str


@dataclass
class Registry:
    """What the loaded plugins provide, each name owned by exactly one plugin."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    failed: list[FailedPlugin] = field(default_factory=list)
    _destinations: dict[str, tuple[Destination, str]] | None = None
    _sources: dict[str, tuple[Source, str]] | None = None
    _functions: dict[str, FunctionDef] | None = None

    # -- destinations -------------------------------------------------------------------
    def destinations(self) -> dict[str, Destination]:
        if self._destinations is None:
            self._destinations = self._collect(
                "register_destinations", "destination", Destination, lambda d: d.name
            )
        return {name: d for name, (d, _) in self._destinations.items()}

    def destination_owner(self, name: str) -> str:
        self.destinations()
        assert self._destinations is not None
        return self._destinations[name][1]

    # -- sources ------------------------------------------------------------------------
    def sources(self) -> dict[str, Source]:
        if self._sources is None:
            self._sources = self._collect("register_sources", "source", Source, lambda s: s.name)
        return {name: s for name, (s, _) in self._sources.items()}

    def source_owners(self) -> dict[str, str]:
        self.sources()
        assert self._sources is not None
        return {name: owner for name, (_, owner) in self._sources.items()}

    # -- functions ----------------------------------------------------------------------
    def functions(self) -> dict[str, FunctionDef]:
        if self._functions is None:
            found: dict[str, FunctionDef] = {}
            for impl in self.pm.hook.register_functions.get_hookimpls():
                owner = self.pm.get_name(impl.plugin) or "?"

                def register(
                    name: str,
                    function: Callable[..., Any],
                    signature: Iterable[Any] = (),
                    _owner: str = owner,
                ) -> None:
                    if not callable(function):
                        raise PluginError(f"plugin {_owner!r}: function {name!r} is not callable")
                    if name in found:
                        raise DuplicateNameError("function", name, found[name].plugin, _owner)
                    found[name] = FunctionDef(name, function, tuple(signature), _owner)

                impl.function(register=register)
            self._functions = found
        return dict(self._functions)

    # -- mappings -----------------------------------------------------------------------
    def mapping_paths(self) -> list[Path]:
        paths: list[Path] = []
        for impl in self.pm.hook.register_mappings.get_hookimpls():

            def register(path: Any) -> None:
                paths.append(Path(str(path)))

            impl.function(register=register)
        return paths

    # -- state store --------------------------------------------------------------------
    def make_state_store(self, url: str, options: dict[str, Any] | None = None) -> StateStore:
        store = self.pm.hook.make_state_store(url=url, options=options or {})
        if store is None:
            raise PluginError(f"no plugin provides a state store for {url.split(':', 1)[0]!r} URLs")
        return store  # type: ignore[no-any-return]

    # -- delivery queue -----------------------------------------------------------------
    def make_queue(self, url: str, options: dict[str, Any] | None = None) -> Queue:
        queue = self.pm.hook.make_queue(url=url, options=options or {})
        if queue is None:
            raise PluginError(f"no plugin provides a queue for {url.split(':', 1)[0]!r} URLs")
        return queue  # type: ignore[no-any-return]

    def make_transport(self, url: str, options: dict[str, Any] | None = None) -> Any:
        transport = self.pm.hook.make_transport(url=url, options=options or {})
        if transport is None:
            raise PluginError(f"no plugin provides a transport for {url.split(':', 1)[0]!r} URLs")
        return transport

    # -- internals ----------------------------------------------------------------------
    def _collect(
        self, hook: str, kind: str, cls: type[Any], name_of: Callable[[Any], str]
    ) -> dict[str, tuple[Any, str]]:
        found: dict[str, tuple[Any, str]] = {}
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            owner = self.pm.get_name(impl.plugin) or "?"

            def register(thing: Any, _owner: str = owner) -> None:
                if not isinstance(thing, cls):
                    raise PluginError(
                        f"plugin {_owner!r} registered a {type(thing).__name__} as a {kind}; "
                        f"expected {cls.__name__}"
                    )
                name = name_of(thing)
                if name in found:
                    raise DuplicateNameError(kind, name, found[name][1], _owner)
                found[name] = (thing, _owner)

            impl.function(register=register)
        return found


def strict_from_env() -> bool:
    return os.environ.get("MAPWIRE_STRICT_PLUGINS", "").lower() in {"1", "true", "yes", "on"}


def build_registry(
    *, strict: bool | None = None, extra_plugins: Iterable[tuple[str, object]] = ()
) -> Registry:
    """Build a plugin manager, load every ``mapwire`` entry point, and return the registry."""
    if strict is None:
        strict = strict_from_env()
    pm = pluggy.PluginManager("mapwire")
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm)
    allow = {n.strip() for n in os.environ.get("MAPWIRE_LOAD_PLUGINS", "").split(",") if n.strip()}
    entry_points = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.value, ep.name)
    )
    seen: set[str] = set()
    for ep in entry_points:
        if ep.name in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(ep.name)
        if allow and ep.name not in allow:
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            if strict:
                raise PluginError(f"plugin {ep.name!r} ({dist}) failed to load: {exc!r}") from exc
            registry.failed.append(FailedPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}"))
            continue
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
        registry.plugins.append(PluginInfo(ep.name, dist, version, hooks))
    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
        registry.plugins.append(PluginInfo(name, "(in process)", "", hooks))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        if strict:
            raise PluginError(str(exc)) from exc
        registry.failed.append(FailedPlugin("?", "?", str(exc)))
    return registry


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry()
    return _REGISTRY


def reset_registry(registry: Registry | None = None) -> None:
    """Replace (or forget) the process-wide registry; for tests and the CLI's flags."""
    global _REGISTRY
    _REGISTRY = registry
