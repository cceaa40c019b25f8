"""mapwire's plugin contract: the two markers and every hook, nothing else.

Built-in plugins (``mapwire.plugins.*``) implement these hooks exactly as third-party
plugins do; both are found through the ``mapwire`` entry-point group. Hook arguments are
keyword-only and are only ever added, never renamed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .queue import Queue
    from .store import StateStore

hookspec = pluggy.HookspecMarker("mapwire")
hookimpl = pluggy.HookimplMarker("mapwire")


@hookspec
def register_destinations(register: Callable[..., None]) -> None:
    """Called once when the registry first needs destinations.

    Returns:
        Nothing; call ``register(destination)`` once per ``Destination`` instance.

    All results are collected.

    Args:
        register: ``register(destination)``; a name claimed by two plugins is an error.

    Since: 0.1
    """


@hookspec
def register_sources(register: Callable[..., None]) -> None:
    """Called once when the registry first needs input sources (mapping ``source:`` names).

    Returns:
        Nothing; call ``register(source)`` once per ``Source``.

    All results are collected.

    Args:
        register: ``register(source)``; a name claimed by two plugins is an error.

    Since: 0.1
    """


@hookspec
def register_endpoints(register: Callable[..., None]) -> None:
    """Called once when ``mapwire serve`` builds its routes (and by ``mapwire plugins`` and
    ``mapwire demo post``), to collect the HTTP endpoints the sources are received on.

    Returns:
        Nothing; call ``register(endpoint)`` once per ``Endpoint``: its path, methods,
        credentials, how a body splits into documents per source, and how it is answered.

    All results are collected.

    Args:
        register: ``register(endpoint)``; a path claimed by two plugins is an error.

    Since: 0.1
    """


@hookspec
def register_functions(register: Callable[..., None]) -> None:
    """Called once when the registry first compiles a mapping, to collect JMESPath functions.

    Returns:
        Nothing; call ``register(name, function, signature)`` per function. ``signature`` is a
        list of argument type lists, e.g. ``[["string"], ["number", "null"]]``, using the
        JMESPath type names (``string number boolean array object null any``
        ``array-string array-number expref``); ``{"variadic": True}`` as the last entry makes
        the last argument repeatable. ``returns=`` (optional) names the JSON type of the
        result, or a list of them: ``register("to_int", fn, sig, returns=["integer",
        "null"])``, from ``any null boolean integer number string array object``; the
        static type checks of ``mapwire validate`` use it. Without it the result is ``any``.

    All results are collected.

    Args:
        register: the callback; a function name claimed by two plugins is an error.

    Since: 0.1
    """


@hookspec
def register_mappings(register: Callable[..., None]) -> None:
    """Called once when commands or the runtime look for shipped mapping files.

    Returns:
        Nothing; call ``register(path)`` with a folder (or file) of mapping specs.

    All results are collected.

    Args:
        register: ``register(path)`` with a ``pathlib.Path`` or ``importlib`` resource.

    Since: 0.1
    """


@hookspec(firstresult=True)
def make_state_store(url: str, options: dict[str, Any]) -> StateStore | None:
    """Called when a pipeline opens its dedup/state store from the configured URL.

    Returns:
        A ``StateStore`` for ``url``, or None if this plugin does not handle its scheme.

    First non-None result wins (firstresult).

    Args:
        url: the store location, e.g. ``sqlite:///var/lib/mapwire/state.db``.
        options: extra settings from the config (timeouts, TTL defaults).

    Since: 0.1
    """


@hookspec(firstresult=True)
def make_queue(url: str, options: dict[str, Any]) -> Queue | None:
    """Called when a pipeline opens its durable delivery queue from the configured URL.

    Returns:
        A ``Queue`` for ``url``, or None if this plugin does not handle its scheme.

    First non-None result wins (firstresult).

    Args:
        url: the queue location, e.g. ``sqlite:///var/lib/mapwire/state.db`` (by default
            the state store's URL, so both share one file).
        options: extra settings from the config (timeouts).

    Since: 0.1
    """


@hookspec(firstresult=True)
def make_rate_limiter(url: str, key: str, rate: float, options: dict[str, Any]) -> Any | None:
    """Called when delivery starts for a connection, to build the rate limit its requests
    wait for.

    Returns:
        An object with ``async acquire()`` (the interface of the in-process
        ``RateLimiter``) that limits every process using ``url`` together, or None if this
        plugin does not handle its scheme (the connection then gets an in-process limiter).

    First non-None result wins (firstresult).

    Args:
        url: the state store location from the config (``store:``).
        key: names the destination credential the limit applies to: a hash of the
            destination's name and secret settings, never a secret itself.
        rate: requests per second allowed for ``key``.
        options: extra settings (``burst``: requests that may go at once after an idle
            period; default ``max(1, rate)``).

    Since: 0.1
    """


@hookspec(firstresult=True)
def make_transport(url: str, options: dict[str, Any]) -> Any | None:
    """Called when a connection's ``transport:`` setting sends its requests elsewhere than
    the vendor (e.g. ``sink:DIR``, which records them as NDJSON files).

    Returns:
        An ``httpx.AsyncBaseTransport`` for ``url``, or None if this plugin does not handle
        its scheme.

    First non-None result wins (firstresult).

    Args:
        url: the transport URL from the connection's config.
        options: extra settings (unused by the built-in sink).

    Since: 0.1
    """
