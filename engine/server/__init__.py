"""``mapwire serve``: the HTTP receiver for the routes the installed sources declare.

Every request is read within size and nesting limits, authenticated, parsed, mapped and
durably queued before it is acknowledged; delivery runs in the same process, or in
deliverer processes (``--deliverers``). The modules, from the bottom up:

* ``logs``: structured JSON log lines (no headers, bodies or secrets, ever).
* ``intake``: reading a body within limits, the nesting-depth check, JSON parsing.
* ``auth``: inbound credentials from ``server.auth``, for the endpoints that ask for them.
* ``committer``: group commit, many requests mapped and queued per SQLite transaction.
* ``endpoints``: the routes the source plugins declare (``register_endpoints``), served by
  one machinery: credentials, body, parse, split, queue, answer.
* ``request_log``: each request's id, log line and HTTP metrics.
* ``asgi``: the ASGI layer: route lookup, the lifespan protocol, error answers, and
  ``request_log`` around each request.
* ``app``: the application built on it (routes, health, metrics, the lifespan's steps).
* ``tap``, ``tap_records``: the Unix socket each intake process streams what it receives
  and maps on, to ``mapwire tap`` (secrets masked, personal data too if asked).
* ``reload``: SIGHUP and ``--watch``: the new config and mappings checked off the event
  loop, then swapped in whole; an invalid set is logged and the old one kept.
* ``delivery_process``: a deliverer process, the delivery loops run until a signal.
* ``http_exchange``, ``http_deadlines``, ``http_protocol``: the HTTP/1.1 connections,
  on httptools' parser: one request's ASGI ``receive`` and ``send``, the header,
  keep-alive and write deadlines, and the connection (pipelining, limits, refusals); uvicorn's h11
  protocol with ``connection_limits``' deadline when httptools is missing.
* ``supervisor``: forks intake and deliverer processes, restarts those that die, drains
  them all on SIGTERM or Ctrl-C.
* ``runner``: uvicorn's server around the application, in this process or in supervised worker
  processes sharing one socket, until SIGTERM or Ctrl-C (the ``serve`` command in
  ``mapwire.cli`` calls it).

Importing this package loads neither Starlette nor uvicorn; ``app`` and ``runner`` do,
when the server is started.
"""
