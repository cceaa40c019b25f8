"""Every error mapwire raises on purpose, cut by who must act on it.

::

    MapwireError
    ├── SpecError                  the integrator: a mapping file is wrong (file:line:col)
    │   └── ConfigError            the operator: a config file is wrong (file:line:col)
    ├── ExpressionSyntaxError      the integrator: a JMESPath expression does not parse (the
    │                              planner reports it as a SpecError problem at its place)
    ├── UnknownName                the user: a destination, source or function name that no
    │                              plugin registers (``describe``); lists the known ones
    ├── InputError                 the sender: a bad inbound payload or signature (a 4xx)
    ├── PluginError                the plugin author: a plugin is broken or clashes
    │   └── DuplicateNameError     two plugins claim the same destination/source/function
    ├── MissingDependency          the operator: an optional package a command needs
    ├── StoreSchemaError           the operator: a store file was written by a newer mapwire
    ├── ItemError                  one mapped item cannot become an action (counted, reported)
    ├── DeliveryError              a destination did not take an item
    │   └── PermanentDeliveryError invalid payload, client-side limit; dead-lettered
    └── Unavailable                nobody's fault: not done now, nothing lost; try again later
        ├── BacklogFull            a connection's queue is past its backlog limit
        ├── QueueUnavailable       the queue's storage failed (a store plugin's driver error)
        ├── StoreUnavailable       the state store's storage failed (likewise)
        └── IntakeUnavailable      ``serve`` could not queue a request (busy, shutting down,
                                   the queue unavailable); carries ``code`` and ``retry_after``

A destination never raises to ask for a retry: ``classify`` returns
``Outcome("retry", retry_after=...)`` for the items to try again (429, 5xx, timeouts);
that is the one retry vocabulary. Store plugins translate their driver's errors
(``sqlite3.Error``, Redis errors) into ``QueueUnavailable``/``StoreUnavailable`` at their
boundary, so the engine catches only the errors of this tree.

``SkipItem`` is not an error: it is the signal that an item was left out on purpose
(duplicate, no usable identity, an event type the flow ignores) and is counted by reason.

Messages quote the offender and never contain credentials, headers or payload values.
Bugs stay ``TypeError``/``RuntimeError``; a queue's ``enqueue`` refuses an action it cannot
serialise with ``TypeError``/``ValueError`` (the Queue contract).
"""

from __future__ import annotations

from dataclasses import dataclass


class MapwireError(Exception):
    """Root of every error mapwire raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a file: where it is and what is wrong.

    ``severity`` is ``"error"`` (the default) or ``"warning"``; warnings print with the
    word ``warning`` before the code. ``suggestion`` is an optional fix to show. Line 0
    means a problem not in a file (a command-line option): it prints without a position.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    severity: str = "error"
    suggestion: str | None = None

    def __str__(self) -> str:
        word = "warning " if self.severity == "warning" else ""
        if self.line == 0:  # not from a file (a command-line option): no position to give
            return f"{self.path}: {word}{self.code} {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {word}{self.code} {self.message}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "suggestion": self.suggestion,
        }
        return out


class SpecError(MapwireError):
    """A mapping file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(SpecError):
    """A config file has problems; ``problems`` lists every one of them."""


class InputError(MapwireError):
    """An inbound payload is malformed, unauthenticated or wrongly signed."""

    def __init__(self, message: str, *, status: int = 400, code: str = "bad_request") -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class PluginError(MapwireError):
    """A plugin failed to load or registered something invalid."""


class MissingDependency(MapwireError):
    """An optional package a command needs is not installed; the message says how to add it."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same name for the same kind of thing."""

    def __init__(self, kind: str, name: str, first: str, second: str, hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.plugins = (first, second)
        self.hint = hint
        message = f"{kind} {name!r} is registered by both {first!r} and {second!r}"
        super().__init__(f"{message}: {hint}" if hint else message)


class ItemError(MapwireError):
    """One item of the input could not become an action (e.g. a required field is null).

    ``code`` names the kind of failure (``required_null``, ``wrong_type``,
    ``expression_error``, ``item_error``); the message never quotes an input value.
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str = "",
        field: str = "",
        index: str = "",
        code: str = "item_error",
    ) -> None:
        self.detail = message
        self.code = code
        self.rule = rule
        self.field = field
        self.index = index
        where = ":".join(x for x in (rule, index, field) if x)
        super().__init__(f"{where}: {message}" if where else message)


#: The code of a document the mapping failed on as a whole, with an error the engine does
#: not expect (a bug the input exposed).
UNPROCESSABLE = "unprocessable"


def unprocessable(exc: BaseException) -> str:
    """What to say of a document the mapping failed on with ``exc``: its type, never its
    message (which may quote the document)."""
    return f"the mapping could not process this document ({type(exc).__name__})"


class SkipItem(Exception):
    """An item was left out on purpose; ``reason`` is the counter's label."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DeliveryError(MapwireError):
    """A destination did not take an item."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


class PermanentDeliveryError(DeliveryError):
    """Will never succeed as sent; the item goes to the dead-letter table with the reason."""


class ExpressionSyntaxError(MapwireError):
    """A JMESPath syntax error with the offset of the offending character."""

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(message)


class UnknownName(MapwireError):
    """A name the registry does not have; the message lists the known ones."""


class StoreSchemaError(MapwireError):
    """A store's file was written by a newer mapwire (its schema version is unknown)."""


class Unavailable(MapwireError):
    """Something mapwire needs is unavailable for now; nothing was lost, try again later."""


class BacklogFull(Unavailable):
    """The queue holds more than the configured backlog; try again later."""

    def __init__(self, connection: str, depth: int, limit: int) -> None:
        self.connection = connection
        super().__init__(f"connection {connection!r}: {depth} actions queued (limit {limit})")


class QueueUnavailable(Unavailable):
    """The queue could not be read or written (its storage failed or cannot be reached).

    Store plugins raise it in place of their driver's errors; the message names the
    storage and the driver's error, never a queued value.
    """


class StoreUnavailable(Unavailable):
    """The state store could not be read or written (as ``QueueUnavailable``)."""


class IntakeUnavailable(Unavailable):
    """``serve`` did not queue the request for a server-side reason; the sender should retry
    after ``retry_after`` seconds. ``code`` names the reason for the JSON answer."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        self.code = code
        self.retry_after = retry_after
        super().__init__(message)
