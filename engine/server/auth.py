"""Inbound credentials from ``server.auth`` in the config, for the endpoints that declare
``credentials="server"``.

Three forms, as the config schema allows:

* ``{bearer_token: X}``: ``Authorization: Bearer X``, or another scheme the endpoint
  declares for its senders (``Endpoint.schemes``, e.g. ``token``).
* ``{username: U, password: P}``: HTTP Basic.
* ``{none: true}``: no check (for a private network or the local demo).

With no ``server.auth`` at all every request is refused: the endpoints fail closed.
Credentials are compared with ``hmac.compare_digest``; no message names them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from ..contracts.errors import InputError


def _refuse(message: str, code: str = "unauthorized") -> InputError:
    return InputError(message, status=401, code=code)


class InboundAuth:
    """Checks the ``Authorization`` header of a request against ``server.auth``."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._token: bytes | None = None
        self._user: bytes | None = None
        self._password: bytes | None = None
        if "bearer_token" in options:
            self.scheme = "bearer"
            self._token = str(options["bearer_token"]).encode("utf-8")
        elif "username" in options:
            self.scheme = "basic"
            self._user = str(options["username"]).encode("utf-8")
            self._password = str(options.get("password", "")).encode("utf-8")
        elif options.get("none") is True:
            self.scheme = "none"
        else:
            self.scheme = "unconfigured"
        if any(c is not None and not c.strip() for c in (self._token, self._user, self._password)):
            self.scheme = "unconfigured"  # an empty credential would let an empty one in

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value sent with a 401."""
        return 'Basic realm="mapwire"' if self.scheme == "basic" else 'Bearer realm="mapwire"'

    def check(self, header: str | None, schemes: tuple[str, ...] = ("bearer",)) -> None:
        """Raise ``InputError`` (401) unless ``header`` carries the configured credentials;
        a bearer token may come with any of ``schemes`` (lower case)."""
        if self.scheme == "none":
            return
        if self.scheme == "unconfigured":
            raise _refuse(
                "inbound auth is not configured on this server (server.auth)",
                "auth_not_configured",
            )
        if not header:
            raise _refuse("the Authorization header is missing")
        kind, _, value = header.strip().partition(" ")
        kind = kind.lower()
        value = value.strip()
        if self.scheme == "bearer" and self._token is not None:
            if kind not in schemes:
                raise _refuse("expected Authorization: Bearer <token>")
            if not hmac.compare_digest(value.encode("utf-8"), self._token):
                raise _refuse("the credentials are not valid")
            return
        if kind != "basic":
            raise _refuse("expected Authorization: Basic <credentials>")
        try:
            decoded = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise _refuse("the Basic credentials are not valid base64") from None
        user, _, password = decoded.partition(b":")
        same_user = hmac.compare_digest(user, self._user or b"")
        same_password = hmac.compare_digest(password, self._password or b"")
        if not (same_user & same_password):
            raise _refuse("the credentials are not valid")
