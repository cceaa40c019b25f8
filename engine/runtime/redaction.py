"""Redaction: a connection's secret settings, and the credentials a request carries, are
replaced in every text bound for logs, dead letters or recorded traffic."""

from __future__ import annotations

from collections.abc import Sequence

import httpx


class Redactor:
    """Replaces every secret setting's value in text bound for logs or dead letters."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = [s for s in secrets if s and len(s) >= 4]
        self._with_token: tuple[str, Redactor] | None = None

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def with_credentials_of(self, request: httpx.Request) -> Redactor:
        """Also the credentials ``request`` carries in its ``Authorization`` header (a
        Basic token is the base64 of the secrets: a vendor echoing it would store them)."""
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        if not token:
            return self
        if self._with_token is None or self._with_token[0] != token:  # built once per token
            self._with_token = (token, Redactor([*self.secrets, token]))
        return self._with_token[1]
