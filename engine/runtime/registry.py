"""Plugin discovery and the registries built from it.

The plugin manager is built on demand (``get_registry()``), never at import time. Every
plugin, built-in or third-party, is an entry point in the ``mapwire`` group and is loaded
one at a time: a plugin that fails to import or register, or implements a hook that does
not exist, is recorded with its error and skipped, unless strict mode is on
(``MAPWIRE_STRICT_PLUGINS=1`` or ``--strict-plugins``). A ``register_*`` hook that raises is
recorded the same way and nothing it registered in that call is kept. A name claimed twice
(a plugin, destination, source or function) always raises ``DuplicateNameError`` naming
both claimants, in strict mode or not. ``MAPWIRE_LOAD_PLUGINS=a,b`` loads only the named
entry points.

This module and the pipeline are the only places that call ``pm.hook``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import get_close_matches
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ..contracts import hookspecs
from ..contracts.destination import Destination
from ..contracts.endpoint import Endpoint
from ..contracts.errors import DuplicateNameError, PluginError
from ..contracts.functions import FunctionDef
from ..contracts.grouped_enqueue import checked_grouping
from ..contracts.queue import Queue
from ..contracts.source import Source
from ..contracts.store import StateStore

if TYPE_CHECKING:  # imported where it is used: it brings asyncio, which `map` never needs
    from ..contracts.ratelimit import RateLimiter

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
    error_type: str = field(default="", compare=False)  # e.g. "ImportError"


@dataclass
class Registry:
    """What the loaded plugins provide, each name owned by exactly one plugin."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    failed: list[FailedPlugin] = field(default_factory=list)
    _destinations: dict[str, tuple[Destination, str]] | None = None
    _sources: dict[str, tuple[Source, str]] | None = None
    _endpoints: dict[str, tuple[Endpoint, str]] | None = None
    _functions: dict[str, FunctionDef] | None = None
    strict: bool = False

    # -- destinations -------------------------------------------------------------------
    def destinations(self) -> dict[str, Destination]:
        if self._destinations is None:
            self._destinations = self._collect(
                "register_destinations", "destination", _instance_of("destination", Destination)
            )
        return {name: d for name, (d, _) in self._destinations.items()}

    def destination_owner(self, name: str) -> str:
        self.destinations()
        assert self._destinations is not None
        return self._destinations[name][1]

    # -- sources ------------------------------------------------------------------------
    def sources(self) -> dict[str, Source]:
        if self._sources is None:
            self._sources = self._collect(
                "register_sources", "source", _instance_of("source", Source)
            )
        return {name: s for name, (s, _) in self._sources.items()}

    def source_owners(self) -> dict[str, str]:
        self.sources()
        assert self._sources is not None
        return {name: owner for name, (_, owner) in self._sources.items()}

    # -- endpoints ----------------------------------------------------------------------
    def endpoints(self) -> dict[str, Endpoint]:
        """The HTTP endpoints the sources declare, by path, in registration order."""
        if self._endpoints is None:
            self._endpoints = self._collect("register_endpoints", "endpoint", _endpoint)
        return {path: e for path, (e, _) in self._endpoints.items()}

    def endpoint_owners(self) -> dict[str, str]:
        self.endpoints()
        assert self._endpoints is not None
        return {path: owner for path, (_, owner) in self._endpoints.items()}

    # -- functions ----------------------------------------------------------------------
    def functions(self) -> dict[str, FunctionDef]:
        if self._functions is None:
            found = self._collect("register_functions", "function", _function_def)
            self._functions = {name: fdef for name, (fdef, _) in found.items()}
        return dict(self._functions)

    # -- mappings -----------------------------------------------------------------------
    def mapping_paths(self) -> list[Path]:
        found = self._collect("register_mappings", "mapping folder", _mapping_path, unique=False)
        return [path for path, _ in found.values()]

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
        return checked_grouping(queue)  # type: ignore[no-any-return]

    # -- delivery rate limit --------------------------------------------------------------
    def make_rate_limiter(
        self, url: str, key: str, rate: float, options: dict[str, Any] | None = None
    ) -> RateLimiter:
        """A plugin's limiter for ``url`` (e.g. one shared through Redis), or the built-in
        in-process ``RateLimiter`` when no plugin handles the URL."""
        options = options or {}
        limiter = self.pm.hook.make_rate_limiter(url=url, key=key, rate=rate, options=options)
        if limiter is None:
            from ..contracts.ratelimit import RateLimiter

            return RateLimiter(rate, burst=options.get("burst"))
        return limiter  # type: ignore[no-any-return]

    def make_transport(self, url: str, options: dict[str, Any] | None = None) -> Any:
        transport = self.pm.hook.make_transport(url=url, options=options or {})
        if transport is None:
            raise PluginError(f"no plugin provides a transport for {url.split(':', 1)[0]!r} URLs")
        return transport

    # -- internals ----------------------------------------------------------------------
    def _collect(
        self, hook: str, kind: str, entry: _Entry, *, unique: bool = True
    ) -> dict[str, tuple[Any, str]]:
        """Call ``hook`` plugin by plugin; ``entry(owner, *args)`` turns one ``register``
        call into ``(name, value)``. Each name is owned by one plugin (with ``unique``)."""
        found: dict[str, tuple[Any, str]] = {}
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            owner = self.pm.get_name(impl.plugin) or "?"
            found.update(self._register_one(hook, kind, entry, impl, owner, found, unique))
        return found

    def _register_one(
        self,
        hook: str,
        kind: str,
        entry: _Entry,
        impl: pluggy.HookImpl,
        owner: str,
        found: dict[str, tuple[Any, str]],
        unique: bool,
    ) -> dict[str, tuple[Any, str]]:
        """One plugin's registrations through ``hook``: all of them, or none if it raised.

        A clash raises even if the plugin caught the error its ``register`` call raised.
        """
        staged: dict[str, tuple[Any, str]] = {}
        clashes: list[DuplicateNameError] = []

        def register(*args: Any, **kwargs: Any) -> None:
            name, value = entry(owner, *args, **kwargs)
            if not unique:
                staged[f"{owner}#{len(staged)}"] = (value, owner)
                return
            first = found.get(name) or staged.get(name)
            if first is not None:
                hint = self.clash_hint(first[1], owner)
                clashes.append(DuplicateNameError(kind, name, first[1], owner, hint))
                raise clashes[-1]
            staged[name] = (value, owner)

        try:
            impl.function(register=register)
        except Exception as exc:
            if clashes:
                raise clashes[0] from None
            self._hook_failed(owner, hook, exc)
            return {}
        if clashes:
            raise clashes[0]
        return staged

    def clash_hint(self, first: str, second: str) -> str:
        """How to resolve two plugins claiming one name: which distributions to choose
        between, and the allow-list that loads every plugin but the later claimant."""
        dists = {p.name: p.distribution for p in self.plugins}
        keep = ",".join(sorted(p.name for p in self.plugins if p.name != second))
        return (
            f"uninstall one of the two distributions ({dists.get(first, '?')}, "
            f"{dists.get(second, '?')}), or set MAPWIRE_LOAD_PLUGINS to choose which plugins "
            f"load (e.g. MAPWIRE_LOAD_PLUGINS={keep})"
        )

    def _hook_failed(self, owner: str, hook: str, exc: Exception) -> None:
        if self.strict:
            raise PluginError(
                f"plugin {owner!r} failed in {hook}: {type(exc).__name__}: {exc}"
            ) from exc
        dist = next((p.distribution for p in self.plugins if p.name == owner), "?")
        record = FailedPlugin(
            owner, dist, f"{hook} raised {type(exc).__name__}: {exc}", type(exc).__name__
        )
        if record not in self.failed:
            self.failed.append(record)


_Entry = Callable[..., tuple[str, Any]]


def _instance_of(kind: str, cls: type[Any]) -> _Entry:
    """``register(thing)`` for a registry of ``cls`` instances named by ``thing.name``."""

    def entry(owner: str, thing: Any) -> tuple[str, Any]:
        if not isinstance(thing, cls):
            raise PluginError(
                f"plugin {owner!r} registered a {type(thing).__name__} as a {kind}; "
                f"expected {cls.__name__}"
            )
        return thing.name, thing

    return entry


def _endpoint(owner: str, endpoint: Any) -> tuple[str, Endpoint]:
    """``register(endpoint)``: an ``Endpoint`` whose path starts with ``/``, named by it."""
    if not isinstance(endpoint, Endpoint):
        raise PluginError(
            f"plugin {owner!r} registered a {type(endpoint).__name__} as an endpoint; "
            "expected Endpoint"
        )
    path = endpoint.path
    if not path.startswith("/") or path.endswith("/") or "{" in path:
        raise PluginError(
            f"plugin {owner!r}: endpoint path {path!r} must start with '/', not end with one "
            "and have no parameters (by_connection adds '/{connection}')"
        )
    return path, endpoint


def _function_def(
    owner: str,
    name: str,
    function: Callable[..., Any],
    signature: Iterable[Any] = (),
    returns: str | Iterable[str] = "any",
) -> tuple[str, FunctionDef]:
    """``register(name, function, signature, returns=...)`` for JMESPath functions."""
    if not callable(function):
        raise PluginError(f"plugin {owner!r}: function {name!r} is not callable")
    kinds = (returns,) if isinstance(returns, str) else tuple(returns)
    unknown = [k for k in kinds if k not in _RETURN_TYPES]
    if unknown or not kinds:
        raise PluginError(
            f"plugin {owner!r}: function {name!r} returns {returns!r}; expected one or a list "
            f"of: {', '.join(sorted(_RETURN_TYPES))}"
        )
    result = kinds[0] if len(kinds) == 1 else kinds
    return name, FunctionDef(name, function, tuple(signature), owner, result)


_RETURN_TYPES = frozenset(
    {"any", "null", "boolean", "integer", "number", "string", "array", "object"}
)


def _mapping_path(owner: str, path: Any) -> tuple[str, Path]:
    """``register(path)`` for folders (or files) of mapping specs (a path or a resource)."""
    return str(path), Path(str(path))


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
    registry = Registry(pm, strict=strict)
    allow = {n.strip() for n in os.environ.get("MAPWIRE_LOAD_PLUGINS", "").split(",") if n.strip()}
    entry_points = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.value, ep.name)
    )
    seen: dict[str, str] = {}
    about: dict[int, tuple[str, str]] = {}
    for ep in entry_points:
        if allow and ep.name not in allow:
            continue
        dist, version = _name_and_version(ep.dist, about)
        if ep.name in seen:
            if seen[ep.name] == dist:  # the same distribution seen twice on sys.path
                continue
            raise DuplicateNameError("plugin", ep.name, seen[ep.name], dist)
        seen[ep.name] = dist
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            _check_hook_names(pm, plugin)
        except Exception as exc:
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            if strict:
                raise PluginError(f"plugin {ep.name!r} ({dist}) failed to load: {exc!r}") from exc
            registry.failed.append(
                FailedPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}", type(exc).__name__)
            )
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
        registry.failed.append(FailedPlugin("?", "?", str(exc), type(exc).__name__))
    return registry


def _name_and_version(
    dist: metadata.Distribution | None, about: dict[int, tuple[str, str]]
) -> tuple[str, str]:
    """A distribution's name and version, read once (each read parses its metadata file),
    not for each of its plugins; the entry points keep every ``dist`` alive meanwhile."""
    if dist is None:
        return "?", "?"
    if id(dist) not in about:
        about[id(dist)] = (dist.name, dist.version)
    return about[id(dist)]


def _check_hook_names(pm: pluggy.PluginManager, plugin: object) -> None:
    """Refuse a plugin implementing a hook mapwire does not have (usually a typo)."""
    unknown = sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or []
        if not caller.has_spec()
        and not all(impl.optionalhook for impl in caller.get_hookimpls() if impl.plugin is plugin)
    )
    if unknown:
        known = [name for name, caller in vars(pm.hook).items() if caller.has_spec()]
        hints = [
            name + "".join(f" (did you mean {m!r}?)" for m in get_close_matches(name, known, 1))
            for name in unknown
        ]
        raise PluginError(f"unknown hook(s): {', '.join(hints)}")


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
