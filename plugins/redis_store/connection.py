"""Opening a Redis client from a ``redis://`` URL, and the names of every key we write.

All of mapwire's keys start with one prefix (``mapwire`` unless the ``prefix`` option says
otherwise), so several deployments, or tests, can share one database. Names that embed a
caller's string (a namespace, a connection name) carry its length first, so that a colon
inside the string can never make two different names collide.

One Redis primary (with replicas or Sentinel for failover) is the supported topology:
scripts touch keys of several families at once, which Redis Cluster would refuse unless
they hashed to one slot.

``RedisClient`` is the plugin's error boundary: every public method of its subclasses
(``RedisStore``, ``RedisQueue``) turns a Redis error (unreachable server, timeout, an error
reply) into the engine's ``StoreUnavailable`` or ``QueueUnavailable``, with the original
chained. The engine never sees ``redis``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mapwire import PluginError, QueueUnavailable, StoreUnavailable

if TYPE_CHECKING:
    import redis

SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PREFIX = "mapwire"


def is_redis_url(url: str) -> bool:
    """Whether ``url`` names a Redis server (``redis://``, ``rediss://`` or ``unix://``)."""
    return url.split(":", 1)[0].lower() in SCHEMES and "://" in url


def split_prefix(url: str, options: dict[str, Any]) -> tuple[str, str]:
    """The URL without its ``prefix`` query parameter, and the key prefix: the URL's
    ``?prefix=``, else the ``prefix`` option, else ``mapwire``. The prefix can thus be set
    on the config's one ``store:`` line."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    found = [value for name, value in query if name == "prefix"]
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    prefix = found[-1] if found else str(options.get("prefix", DEFAULT_PREFIX))
    return urlunsplit(parts._replace(query=rest)), prefix


def require_client() -> None:
    """Fail with an install hint unless the Redis client library is importable.

    Raises:
        PluginError: the optional dependency is missing.
    """
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise PluginError(
            "redis:// URLs need the Redis client: pip install 'mapwire[redis]'"
        ) from exc


def open_client(url: str, options: dict[str, Any]) -> redis.Redis:
    """A synchronous client for ``url``; it is thread-safe and reconnects after ``fork()``.

    Known options: ``timeout_seconds`` (socket connect and read timeout, default 5);
    other options are ignored.
    """
    import redis

    timeout = float(options.get("timeout_seconds", 5.0))
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=True,
    )


def server_identity(url: str, prefix: str) -> str:
    """Which server, database and prefix ``url`` names, without its credentials: two
    objects with equal identities see the same keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port or ''}{parts.path}?{parts.query}#{prefix}"


def _part(text: str) -> str:
    return f"{len(text)}:{text}"


class Keys:
    """Every key name mapwire uses under one prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    # -- the state store ----------------------------------------------------------------
    def seen(self, namespace: str, key: str) -> str:
        """A dedup key: its value is its expiry on the writer's clock (or ``inf``)."""
        return f"{self.prefix}:seen:{_part(namespace)}:{key}"

    def members(self, namespace: str, key: str) -> str:
        """A membership hash: member -> ``present:version`` (tombstones kept)."""
        return f"{self.prefix}:members:{_part(namespace)}:{key}"

    def alias(self, namespace: str, alias: str) -> str:
        """An alias's set: the membership keys it is another name of."""
        return f"{self.prefix}:alias:{_part(namespace)}:{alias}"

    def aliased(self, namespace: str, key: str) -> str:
        """A membership key's set of aliases (so ``forget`` removes them with the set)."""
        return f"{self.prefix}:aliased:{_part(namespace)}:{key}"

    # -- the queue ------------------------------------------------------------------------
    def stream(self, connection: str) -> str:
        """A connection's stream: every entry not yet settled, oldest first."""
        return f"{self.prefix}:queue:{connection}"

    def due(self, connection: str) -> str:
        """A sorted set: each pending (claimed, unsettled) entry -> when it is claimable."""
        return f"{self.prefix}:due:{connection}"

    def tries(self, connection: str) -> str:
        """A hash: entry id -> ``attempts`` and the last error, for entries tried before."""
        return f"{self.prefix}:tries:{connection}"

    def keyof(self, connection: str) -> str:
        """A hash: pending entry id -> its ordering key."""
        return f"{self.prefix}:keyof:{connection}"

    def pending(self, connection: str) -> str:
        """A hash: ordering key -> how many of its entries are pending."""
        return f"{self.prefix}:pending:{connection}"

    def loose(self, connection: str) -> str:
        """A sorted set: each pending entry without an ordering key -> when claimable."""
        return f"{self.prefix}:loose:{connection}"

    def keyfree(self, connection: str) -> str:
        """A sorted set: ordering key with pending entries -> when all of them are ready."""
        return f"{self.prefix}:keyfree:{connection}"

    def keyq(self, connection: str) -> str:
        """A sorted set by member: each pending entry with an ordering key, per key in
        stream order (``queue_index``)."""
        return f"{self.prefix}:keyq:{connection}"

    def keyout(self, connection: str) -> str:
        """A sorted set by member, as ``keyq``: the pending entries of each key's last
        hand-out."""
        return f"{self.prefix}:keyout:{connection}"

    def erased(self, connection: str) -> str:
        """A set: the pending entries whose person was erased while a worker held them
        (``drop_person``); settling deletes them, unless they were delivered."""
        return f"{self.prefix}:erased:{connection}"

    def queue_keys(self, connection: str) -> list[str]:
        """The ten keys every queue script takes first (``queue_index.PREAMBLE``)."""
        return [
            self.stream(connection),
            self.due(connection),
            self.tries(connection),
            self.keyof(connection),
            self.pending(connection),
            self.loose(connection),
            self.keyfree(connection),
            self.keyq(connection),
            self.keyout(connection),
            self.erased(connection),
        ]

    @property
    def layout(self) -> str:
        """A hash: connection -> the version of its queue index (``queue_index.LAYOUT``)."""
        return f"{self.prefix}:layout"

    @property
    def connections(self) -> str:
        """A set of the connections that ever had an entry."""
        return f"{self.prefix}:connections"

    @property
    def progress(self) -> str:
        """A hash: progress key -> value recorded by ``enqueue``."""
        return f"{self.prefix}:progress"

    # -- dead letters -----------------------------------------------------------------------
    @property
    def dead_sequence(self) -> str:
        return f"{self.prefix}:dead:seq"

    @property
    def dead_all(self) -> str:
        """A sorted set of every dead letter id (scored by id)."""
        return f"{self.prefix}:dead:all"

    def dead_of(self, connection: str) -> str:
        """A sorted set of one connection's dead letter ids (scored by id)."""
        return f"{self.prefix}:dead:by:{connection}"

    def dead(self, id: int) -> str:
        """One dead letter, as a hash of its fields."""
        return f"{self.prefix}:dead:item:{id}"

    # -- the shared rate limit ----------------------------------------------------------------
    def rate(self, key: str) -> str:
        return f"{self.prefix}:rate:{key}"


def is_redis_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an error of the Redis client library."""
    import redis

    return isinstance(exc, redis.RedisError)


def translating(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with Redis errors raised as the object's ``unavailable`` error."""

    @functools.wraps(method)
    def call(self: RedisClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if not is_redis_error(exc):
                raise
            raise self.unavailable(f"Redis: {exc}") from exc

    call.translates = True  # type: ignore[attr-defined]
    return call


class RedisClient:
    """Base of ``RedisStore`` and ``RedisQueue``: one client, its key names and identity.

    A subclass's public methods, its own and those its mixins bring, raise ``unavailable``
    in place of Redis errors: the queue's error here, ``RedisStore`` sets its own.
    """

    unavailable: type[QueueUnavailable | StoreUnavailable] = QueueUnavailable

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            member = inspect.getattr_static(cls, name)
            if (
                not name.startswith("_")
                and inspect.isfunction(member)
                and not getattr(member, "translates", False)
            ):
                setattr(cls, name, translating(member))

    def __init__(self, url: str, prefix: str, options: dict[str, Any] | None) -> None:
        self.url = url
        self.keys = Keys(prefix)
        #: Which keys this object sees; a store and a queue with the same identity share
        #: them (the queue then records dedup keys inside its own enqueue script).
        self.identity = server_identity(url, prefix)
        self._client: redis.Redis | None = open_client(url, options or {})

    def close(self) -> None:
        """Close the client's connections; closing twice is harmless."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r})"

    def _open(self) -> redis.Redis:
        """The client, or ``RuntimeError`` once closed."""
        if self._client is None:
            raise RuntimeError(f"{self!r} is closed")
        return self._client
