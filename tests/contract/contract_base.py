"""The part both vendor stand-ins share: lifecycle, fault controls and records.

:class:`VendorServer` owns a :class:`contract_http.Listener` and its lifecycle
(``start``/``stop``, ``down``/``up`` on the same port), the fault controls, and the records
of what was received and accepted. A subclass implements :meth:`VendorServer.handle` (one
request in, one :class:`Reply` out) and says how a body splits into items and which items
repeat (:meth:`VendorServer.items_of`, :meth:`VendorServer.dedup_key`).

Accepted bodies may be recorded undecoded (see :meth:`VendorServer.defer`): decoding a
500 KB JSON body costs about 10 ms, which at 200 requests a second would make the server,
not the client, the bottleneck. Deferred bodies are decoded, split and de-duplicated, in
arrival order, when ``accepted``, ``rejected`` or ``duplicates_absorbed`` is read.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, NamedTuple, Self

from contract_http import HOST, Listener, Reply, Request

ItemPredicate = Callable[[dict[str, Any]], bool]
"""Chooses the items a server refuses: a Track batch entity, an mParticle batch, a body."""


class RequestRecord(NamedTuple):
    """One request the server received."""

    method: str
    path: str
    """The raw path, as sent (percent-encoding kept), without the query string."""
    status: int | None
    """The status answered; None when the connection was closed without an answer."""
    bytes: int
    """Size of the request body."""


class Accepted(NamedTuple):
    """One item the server accepted and recorded."""

    route: str
    """``"<METHOD> <raw path>"``, e.g. ``"POST /api/v2/batch"``."""
    item: dict[str, Any]


class Rejected(NamedTuple):
    """One item (or whole body) the server refused."""

    route: str
    item: Any
    reason: str


@dataclass(frozen=True)
class _Fault:
    """What to do with one upcoming request instead of (or after) handling it."""

    reply: Reply | None = None
    """A canned answer; None means close the connection without answering."""
    processed: bool = False
    """For a dropped connection: handle the request first, then drop the answer."""


def _body_bytes(body: bytes | str | Mapping[str, Any] | list[Any] | None) -> tuple[bytes, str]:
    if body is None:
        return b"", ""
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body).encode("utf-8"), "application/json"


class VendorServer:
    """A real HTTP server on 127.0.0.1 with fault controls; subclasses speak for a vendor.

    Use as a context manager or with :meth:`start`/:meth:`stop`. All controls and records
    are thread-safe.
    """

    name: ClassVar[str] = "vendor"

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._lifecycle = threading.Lock()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._clear()

    def _clear(self) -> None:
        self._requests: list[RequestRecord] = []
        self._arrived = 0
        self._accepted: list[Accepted] = []
        self._rejected: list[Rejected] = []
        self._pending: list[tuple[str, str, bytes | list[Any]]] = []
        self._seen: set[str] = set()
        self._duplicates = 0
        self._faults: deque[_Fault] = deque()
        self._predicate: ItemPredicate | None = None
        self._delay = 0.0
        self._gate: threading.Event | None = None
        self._validate = True
        self._errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind (an ephemeral port unless one was given) and serve in a background thread."""
        with self._lifecycle:
            if not self._started:
                self._open()
                self._started = True
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and join every thread. Idempotent."""
        with self._lifecycle:
            self._close()
            self._started = False

    def down(self) -> None:
        """Refuse connections: close the listening socket and every open connection."""
        with self._lifecycle:
            if not self._started:
                raise RuntimeError(f"{self.name} server is not started")
            self._close()

    def up(self) -> None:
        """Listen again, on the same port, after :meth:`down`."""
        with self._lifecycle:
            if not self._started:
                raise RuntimeError(f"{self.name} server is not started")
            if self._listener is None:
                self._open()

    @property
    def is_up(self) -> bool:
        """True while the server accepts connections."""
        return self._listener is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _open(self) -> None:
        listener = Listener((HOST, self._port), self)
        self._port = listener.server_port
        self._stopping.clear()
        thread = threading.Thread(
            target=listener.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-server-{self._port}",
        )
        thread.start()
        self._listener, self._thread = listener, thread

    def _close(self) -> None:
        listener, thread = self._listener, self._thread
        if listener is None or thread is None:
            return
        self._listener = self._thread = None
        self._stopping.set()
        listener.shutdown()
        listener.close_connections()
        listener.server_close()
        thread.join()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port; stays the same across :meth:`down`/:meth:`up`."""
        if not self._started:
            raise RuntimeError(f"{self.name} server is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL a client is configured with: the vendor's base URL, on this server."""
        return self.origin

    @property
    def auth(self) -> tuple[str, str]:
        """The Basic credentials the server accepts, as ``(user, password)``."""
        raise NotImplementedError

    # -- fault controls ------------------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int,
        retry_after: int | str | None = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After``, ``body``).

        Faults queue in the order they are set, shared with :meth:`drop_next`.
        """
        content, content_type = _body_bytes(body)
        extra = dict(headers or {})
        if content_type:
            extra.setdefault("Content-Type", content_type)
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        fault = _Fault(Reply(status, content, extra))
        with self._lock:
            self._faults.extend([fault] * n)

    def drop_next(self, n: int = 1, *, processed: bool = False) -> None:
        """Close the connection without answering the next ``n`` requests.

        With ``processed=True`` each request is handled (and its items recorded) before
        the answer is lost, as when a response times out after the vendor took the data.
        """
        with self._lock:
            self._faults.extend([_Fault(None, processed)] * n)

    def fail_items(self, predicate: ItemPredicate | None) -> None:
        """Refuse every item for which ``predicate(item)`` is true; None stops refusing."""
        with self._lock:
            self._predicate = predicate

    def set_delay(self, seconds: float) -> None:
        """Wait this long before answering each request (0 for no delay)."""
        if seconds < 0:
            raise ValueError("delay must not be negative")
        with self._lock:
            self._delay = float(seconds)

    def hold_answers(self) -> None:
        """Keep every request that arrives from now on waiting for its answer until
        :meth:`answer_held` (or the server stops): a test decides when it is answered."""
        with self._lock:
            self._gate = threading.Event()

    def answer_held(self) -> None:
        """Answer the requests :meth:`hold_answers` keeps waiting, and the next at once."""
        with self._lock:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def set_validate(self, enabled: bool) -> None:
        """Turn schema validation (and per-item limits) on or off; on by default."""
        with self._lock:
            self._validate = bool(enabled)

    @property
    def validating(self) -> bool:
        """Whether bodies are checked against the vendor's schemas."""
        with self._lock:
            return self._validate

    def reset(self) -> None:
        """Forget every record and fault, turn validation back on, and be up again."""
        with self._lifecycle:
            if self._started and self._listener is None:
                self._open()
        with self._lock:
            self._clear()

    # -- records -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """How many requests were received."""
        with self._lock:
            return len(self._requests)

    @property
    def arrived(self) -> int:
        """How many requests have arrived, answered or not (a delayed one counts at once)."""
        with self._lock:
            return self._arrived

    @property
    def accepted(self) -> list[Accepted]:
        """Every item accepted and not absorbed as a repeat, in arrival order (a copy)."""
        with self._lock:
            self._settle()
            return list(self._accepted)

    @property
    def rejected(self) -> list[Rejected]:
        """Every item refused by validation, a limit or :meth:`fail_items` (a copy)."""
        with self._lock:
            self._settle()
            return list(self._rejected)

    @property
    def duplicates_absorbed(self) -> int:
        """Items accepted (answered with success) but not recorded because they repeat."""
        with self._lock:
            self._settle()
            return self._duplicates

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of failures inside the server itself; each was answered with 500."""
        with self._lock:
            return list(self._errors)

    def accepted_items(self, route: str) -> list[dict[str, Any]]:
        """The accepted items of one route, e.g. ``"POST /api/v2/batch"``."""
        return [record.item for record in self.accepted if record.route == route]

    # -- for subclasses ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request that no fault intercepted."""
        raise NotImplementedError

    def items_of(self, kind: str, document: Any) -> list[Any]:
        """The items in a decoded body that was recorded with :meth:`defer`."""
        return [document]

    def dedup_key(self, kind: str, item: dict[str, Any]) -> str | None:
        """A key under which the vendor ignores a repeat of ``item``; None if it does not."""
        return None

    def fast_path(self) -> bool:
        """True when a body may be accepted without being decoded (no checks would run)."""
        with self._lock:
            return not self._validate and self._predicate is None

    def predicate(self) -> ItemPredicate | None:
        """The current :meth:`fail_items` predicate."""
        with self._lock:
            return self._predicate

    def defer(self, route: str, kind: str, body: bytes) -> None:
        """Record an accepted body undecoded; it is decoded when the records are read."""
        with self._lock:
            self._pending.append((route, kind, body))

    def commit(self, route: str, kind: str, items: list[Any]) -> None:
        """Record accepted, decoded items (repeats are absorbed when the records are read)."""
        with self._lock:
            self._pending.append((route, kind, items))

    def reject(self, route: str, item: Any, reason: str) -> None:
        """Record one refused item or body."""
        with self._lock:
            self._rejected.append(Rejected(route, item, reason))

    def note_error(self, text: str) -> None:
        """Record a failure inside the server."""
        with self._lock:
            self._errors.append(text)

    # -- internals -----------------------------------------------------------------------------

    def _settle(self) -> None:
        """Decode, split and de-duplicate pending bodies, in arrival order. Lock held."""
        for route, kind, payload in self._pending:
            if isinstance(payload, bytes):
                try:
                    items = self.items_of(kind, json.loads(payload))
                except (ValueError, TypeError, KeyError, AttributeError):
                    self._rejected.append(Rejected(route, None, "body is not the expected JSON"))
                    continue
            else:
                items = payload
            for item in items:
                if not isinstance(item, dict):
                    self._rejected.append(Rejected(route, item, "item is not a JSON object"))
                    continue
                key = self.dedup_key(kind, item)
                if key is not None:
                    if key in self._seen:
                        self._duplicates += 1
                        continue
                    self._seen.add(key)
                self._accepted.append(Accepted(route, item))
        self._pending.clear()

    def _record(self, request: Request, status: int | None) -> None:
        with self._lock:
            self._requests.append(
                RequestRecord(request.method, request.path, status, len(request.body))
            )

    def respond(self, request: Request) -> Reply | None:
        """The answer to one request after faults and delay; None to drop the connection."""
        with self._lock:
            self._arrived += 1
            fault = self._faults.popleft() if self._faults else None
            delay = self._delay
            gate = self._gate
        while gate is not None and not gate.wait(0.05) and not self._stopping.is_set():
            pass  # held until the test answers (``answer_held``)
        if (delay > 0 and self._stopping.wait(delay)) or self._stopping.is_set():
            self._record(request, None)
            return None
        if fault is not None and fault.reply is not None:
            self._record(request, fault.reply.status)
            return fault.reply
        if fault is not None and not fault.processed:
            self._record(request, None)
            return None
        try:
            reply = self.handle(request)
        except Exception:
            self.note_error(traceback.format_exc())
            reply = Reply.json(500, {"error": "contract server failure; see server_errors"})
        if fault is not None:
            self._record(request, None)
            return None
        self._record(request, reply.status)
        return reply
