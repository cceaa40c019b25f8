"""Reading a request body safely: content type, size, nesting depth, then JSON.

Each check fails with an ``InputError`` whose status and code the app turns into a JSON
4xx, and whose message names the limit or the position, never the content:

* ``check_content_type``: JSON media types only (415 ``unsupported_media_type``).
* ``read_body``: the body is read as a stream and refused as soon as it passes the limit
  (413 ``body_too_large``); a declared ``Content-Length`` over the limit is refused before
  anything is read. A body that trickles in slower than ``BODY_TIMEOUT_SECONDS`` is 408.
* ``nesting_exceeds`` (``engine.json_limits``, shared with ``send``): the depth of
  ``[``/``{`` outside strings, so a hostile body cannot exhaust the stack of any later
  step (400 ``too_deep``).
* ``parse_json``: orjson, after the depth check (400 ``malformed_json``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from ..contracts.errors import InputError
from ..runtime.json_limits import inexact_integer
from ..runtime.json_limits import nesting_exceeds as nesting_exceeds  # moved; kept here

BODY_TIMEOUT_SECONDS = 30.0


def check_content_type(value: str | None) -> None:
    """Accept ``application/json`` and ``application/*+json``, in UTF-8 if a charset is given."""
    if value is None:
        raise InputError(
            "Content-Type is missing; send application/json",
            status=415,
            code="unsupported_media_type",
        )
    media, _, params = value.partition(";")
    media = media.strip().lower()
    if not (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    ):
        raise InputError(
            "Content-Type must be application/json", status=415, code="unsupported_media_type"
        )
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise InputError("JSON bodies must be UTF-8", status=415, code="unsupported_media_type")


def _too_large(limit: int) -> InputError:
    return InputError(
        f"request body is larger than {limit} bytes", status=413, code="body_too_large"
    )


async def read_body(
    headers: Mapping[str, str],
    chunks: AsyncIterator[bytes],
    limit: int,
    *,
    timeout: float = BODY_TIMEOUT_SECONDS,
    within: Callable[[float], AbstractAsyncContextManager[object]] = asyncio.timeout,
) -> bytes:
    """The whole body, never holding more than ``limit`` bytes of it, read ``within``
    ``timeout`` seconds (the server's ``Deadlines.limit``)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    # A body of one chunk (the usual case) is that chunk itself, never copied; from a second
    # chunk on they are copied into one buffer as they come, so a body sent in many small
    # pieces costs its size, not an object per piece.
    first = b""
    body: bytearray | None = None
    size = 0
    try:
        async with within(timeout):
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                if not chunk:
                    continue
                if body is not None:
                    body += chunk
                elif first:
                    body = bytearray(first)
                    body += chunk
                else:
                    first = chunk if type(chunk) is bytes else bytes(chunk)
    except TimeoutError:
        raise InputError(
            f"the request body was not received within {timeout:g} seconds",
            status=408,
            code="body_timeout",
        ) from None
    return first if body is None else bytes(body)


def parse_json(body: bytes, max_depth: int) -> Any:
    """The parsed body, after the depth check."""
    if not body.strip():
        raise InputError("the request body is empty", code="malformed_json")
    if nesting_exceeds(body, max_depth):
        raise InputError(f"JSON nests deeper than {max_depth} levels", status=400, code="too_deep")
    if inexact_integer(body):
        raise InputError(
            "an integer is beyond 64 bits and cannot be carried exactly; send it as a string",
            status=400,
            code="number_out_of_range",
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in exc.msg or "recursion" in exc.msg:
            raise InputError("JSON nests too deep", code="too_deep") from None
        raise InputError(
            f"the body is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})",
            code="malformed_json",
        ) from None
