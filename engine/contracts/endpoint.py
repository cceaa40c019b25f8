"""The contract of an HTTP endpoint a source plugin serves with ``mapwire serve``.

The engine owns the machinery every endpoint shares: reading the body within the limits,
parsing it (off the event loop when large), error answers, durable queueing through the
group committer, health and metrics. An ``Endpoint`` says the rest, as data and pure
functions: where it listens, whose credentials it checks, how a parsed body splits into
documents per source, and how the request is answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: Who vouches for a request: ``server`` checks ``server.auth`` (HTTP Bearer or Basic) before
#: the body is read; ``source`` verifies the raw body with the ``authenticate`` of the
#: endpoint's source against each candidate connection's ``source:`` settings, and feeds
#: only the connections whose settings verify it; ``none`` checks nothing.
Credentials = Literal["server", "source", "none"]


@dataclass(frozen=True)
class Documents:
    """Documents of one request body, all of one source."""

    source: str
    documents: list[Any]


@dataclass(frozen=True)
class Reply:
    """An endpoint's answer: a JSON body and its status.

    ``note`` (optional) is an event name the server logs as a warning with the request's
    id, e.g. for a request that is acknowledged but not processed.
    """

    body: Any
    status: int = 200
    note: str | None = None


@dataclass(frozen=True)
class Answering:
    """What an endpoint's ``answer`` sees once its documents are queued.

    ``body`` is the parsed request. ``summary`` is the intake summary (``status``,
    ``documents``, ``queued``, ``skipped``, ``errors``), or None when nothing was queued
    (``split`` returned None, or the request was answered without credentials).
    ``readers(source)`` gives the settings (``settings:``) of each enabled connection that
    reads ``source``, e.g. to describe what the server forwards.
    """

    body: Any
    summary: Mapping[str, Any] | None
    readers: Callable[[str], list[Mapping[str, Any]]]


def accepted(answering: Answering) -> Reply:
    """The default answer: 202 with the intake summary."""
    return Reply(answering.summary, 202)


@dataclass(frozen=True)
class Endpoint:
    """A route of ``mapwire serve`` that takes documents for one or more sources.

    ``path`` is where it listens (``/acme/webhook``); with ``by_connection`` it also
    listens at ``{path}/{connection}``, and a request there is for that connection only.
    ``methods`` are the HTTP methods it takes. ``sources`` names every source its
    documents may be for (``mapwire plugins`` lists them; with ``credentials="source"``
    each candidate connection is checked by the ``authenticate`` of the first of them it
    reads).

    ``split(parsed)`` turns the parsed body into ``Documents`` per source, in body order,
    raising ``InputError`` (400 ``invalid_shape``) for a body of the wrong shape; it
    returns None for a request that queues nothing and is only answered. A source that
    no enabled connection reads is answered 404 ``no_connection``. ``answer(answering)``
    builds the ``Reply`` once the documents are queued (default: 202 with the summary).

    With ``credentials="server"``, ``schemes`` are the ``Authorization`` schemes a
    ``server.auth`` bearer token may come with (lower case; ``bearer`` by default).
    ``open_to(parsed)`` (optional) accepts a request whose credentials are refused when
    its body (read within ``open_body_bytes``) is one the protocol answers without them,
    such as a handshake; it is then answered, never queued. With ``credentials="source"``,
    ``telling_refusals`` lists the ``InputError`` codes that say the most when no
    connection's settings verify a request (reported before the first refusal).

    For ``mapwire demo post``: ``recognizes(parsed)`` tells whether a sample document is
    one this endpoint takes, and ``sign(body, secret)`` gives the headers that make the
    source's ``authenticate`` accept ``body`` with the shared ``secret``.
    """

    path: str
    description: str
    sources: tuple[str, ...]
    split: Callable[[Any], list[Documents] | None]
    credentials: Credentials = "server"
    methods: tuple[str, ...] = ("POST",)
    by_connection: bool = False
    answer: Callable[[Answering], Reply] = accepted
    schemes: tuple[str, ...] = ("bearer",)
    open_to: Callable[[Any], bool] | None = None
    open_body_bytes: int = 16_384
    telling_refusals: tuple[str, ...] = ()
    recognizes: Callable[[Any], bool] | None = None
    sign: Callable[[bytes, str], dict[str, str]] | None = field(default=None, repr=False)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path it listens at, as ``mapwire plugins`` shows them."""
        return (self.path, f"{self.path}/{{connection}}") if self.by_connection else (self.path,)
