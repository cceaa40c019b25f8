"""The proxies the environment names for vendor requests, read as httpx reads them.

``HTTP_PROXY``, ``HTTPS_PROXY`` and ``ALL_PROXY`` (or their lower-case forms, which win)
name a proxy for ``http://``, ``https://`` or every URL; ``NO_PROXY`` lists the hosts that
go direct (``*``: all of them). ``proxy_mounts`` turns them into the mounts of a vendor
client (``http1.vendor_client``): a pattern to httpx's own transport for that proxy, or to
``None`` (the client's own transport) for a host that goes direct.

A ``NO_PROXY`` entry httpx cannot read as a host (an IPv6 range such as ``fd00::/8``,
``[::1]``) is left out with a warning (once per process: the check at start and every
client after it read the same variables), rather than stopping every vendor request as httpx
itself would; like httpx, an IPv4 range matches only its first address and a port is
compared as written. A proxy URL that cannot be used stops the client's construction with a
``ConfigError`` naming the variable, never its value (a proxy URL may hold a password).
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request

import httpx

from ..contracts.errors import ConfigError, Problem

logger = logging.getLogger("mapwire.delivery")

#: The proxy variable of each scheme, ``all`` for every URL (its lower-case form is read
#: first).
VARIABLES = {"http": "HTTP_PROXY", "https": "HTTPS_PROXY", "all": "ALL_PROXY"}

#: The ``NO_PROXY`` entries this process has warned about already.
_warned: set[str] = set()


def environment_proxies() -> dict[str, str | None]:
    """URL patterns (``http://``, ``https://``, ``all://``) to proxy URLs, and each usable
    ``NO_PROXY`` host as a pattern to ``None``: the rules httpx applies for a client given
    no transport of its own. Empty when no proxy is set, or ``NO_PROXY`` is ``*``: the
    client then has no mounts to look through."""
    found = urllib.request.getproxies()
    proxies: dict[str, str | None] = {}
    for scheme in VARIABLES:
        if url := found.get(scheme):
            proxies[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (name.strip() for name in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        pattern = _no_proxy_pattern(host)
        try:
            httpx.URL(pattern)
        except (httpx.InvalidURL, ValueError):
            if host not in _warned:
                _warned.add(host)
                logger.warning("NO_PROXY entry %r is not a host httpx can match: left out", host)
            continue
        proxies[pattern] = None
    return proxies if any(proxies.values()) else {}


def proxy_mounts(limits: httpx.Limits) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The mounts of a vendor client for ``environment_proxies``: each proxy's own
    transport, ``None`` where a host goes direct.

    Raises:
        ConfigError: a proxy variable holds a URL httpx cannot use (its value unsaid).
    """
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy in environment_proxies().items():
        if proxy is None:
            mounts[pattern] = None
            continue
        try:
            mounts[pattern] = httpx.AsyncHTTPTransport(proxy=proxy, limits=limits)
        except Exception as exc:  # InvalidURL, an unknown scheme, socks without its extra
            raise _unusable(pattern, exc) from None
    return mounts


def _unusable(pattern: str, exc: Exception) -> ConfigError:
    name = VARIABLES[pattern.removesuffix("://")]
    message = (
        f"{name} (or {name.lower()}) is not a proxy URL vendor requests can use "
        f"({type(exc).__name__}); its value is not shown, as it may hold a password"
    )
    hint = "an http:// or https:// URL, with a user name and password percent-encoded"
    return ConfigError([Problem("environment", 0, 0, "C090", message, suggestion=hint)])


def _no_proxy_pattern(host: str) -> str:
    """The URL pattern a ``NO_PROXY`` entry stands for: a URL as given, an address or
    ``localhost`` exactly, any other name with its subdomains (``example.com`` and
    ``www.example.com``; ``.example.com`` only the subdomains)."""
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host.split("/")[0])
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        return f"all://[{host}]"
    if address is not None or host.lower() == "localhost":
        return f"all://{host}"
    return f"all://*{host}"
