"""The playground's ASGI application: the page, its static files and a small JSON API.

=============================  =========================================================
``GET /``                      the page
``GET /static/{file}``         the page's script, style and the bundled editor
``GET /api/catalog``           mappings by name, samples (files and test cases)
``GET /api/mapping?name=N``    one shipped or installed mapping's file name and text
``GET /api/sample?id=I``       one sample's input (and a test case's settings)
``POST /api/run``              ``{mapping, file, input, settings}`` -> everything shown
``POST /api/complete``         ``{mapping}`` -> completion items for the editor
``POST /api/save``             ``{name, mapping, input?, settings?, case?}`` -> files saved
=============================  =========================================================

The API answers only JSON requests from its own page: a POST must be ``application/json``
and an ``Origin``, when the browser sends one, must be this server's own, so another web
site open in the same browser cannot make it write files; and the ``Host`` must name the
address it listens on (a loopback name by default), so a web site whose name was pointed
at 127.0.0.1 (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..contracts.errors import SpecError
from ..language.plan import Plan
from ..runtime.registry import Registry
from .catalog import Catalog
from .completions import completions
from .save_turn import save_turn
from .saving import SaveRefused
from .workbench import Account, Turn, evaluate

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 5_000_000
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
ANY_ADDRESS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Playground:
    registry: Registry
    save_dir: Path
    accounts: Callable[[Plan], Account | None]
    host: str = "127.0.0.1"

    def allowed_hosts(self) -> list[str]:
        """The names a request's ``Host`` may give: loopback ones and the listening
        address; any, when it listens on every address (the user chose to expose it)."""
        if self.host in ANY_ADDRESS:
            return ["*"]
        return list(dict.fromkeys([*LOOPBACK_NAMES, self.host]))


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type="application/json")


def _error(message: str, status: int = 400) -> Response:
    return _json({"error": message}, status)


async def _body(request: Request) -> dict[str, Any] | Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error("send application/json", 415)
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        return _error("cross-origin requests are refused", 403)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return _error(f"request over {MAX_BODY_BYTES} bytes", 413)
    try:
        value = orjson.loads(raw)
    except ValueError:
        return _error("the request body is not JSON")
    if not isinstance(value, dict):
        return _error("the request body must be a JSON object")
    return value


def _text(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    return value if isinstance(value, str) else default


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("settings")
    return value if isinstance(value, dict) else {}


def create_app(playground: Playground) -> Starlette:
    catalog = Catalog(playground.registry)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def catalog_route(request: Request) -> Response:
        return _json(
            {
                "mappings": catalog.mapping_list(),
                "samples": catalog.sample_list(),
                "save_dir": str(playground.save_dir),
            }
        )

    async def mapping_route(request: Request) -> Response:
        found = catalog.mapping_text(request.query_params.get("name", ""))
        if found is None:
            return _error("no such mapping", 404)
        return _json({"file": found[0], "text": found[1]})

    async def sample_route(request: Request) -> Response:
        sample = catalog.sample(request.query_params.get("id", ""))
        if sample is None:
            return _error("no such sample", 404)
        return _json(
            {"input": sample.input, "mapping": sample.mapping, "settings": sample.settings}
        )

    async def run_route(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        turn = Turn(
            _text(body, "mapping"),
            _text(body, "file", "mapping.yaml") or "mapping.yaml",
            _text(body, "input"),
            _settings(body),
        )
        answer = await asyncio.to_thread(evaluate, turn, playground.registry, playground.accounts)
        return _json(answer)

    async def complete_route(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        return _json({"items": completions(_text(body, "mapping"), playground.registry)})

    async def save_route(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        try:
            saved = save_turn(playground.save_dir, body, playground.registry)
        except SaveRefused as exc:
            return _error(str(exc), 403)
        except SpecError as exc:
            return _json(
                {
                    "error": "the mapping or its settings have errors",
                    "problems": [str(p) for p in exc.problems],
                },
                400,
            )
        return _json({"saved": [str(p.relative_to(playground.save_dir.resolve())) for p in saved]})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/catalog", catalog_route),
            Route("/api/mapping", mapping_route),
            Route("/api/sample", sample_route),
            Route("/api/run", run_route, methods=["POST"]),
            Route("/api/complete", complete_route, methods=["POST"]),
            Route("/api/save", save_route, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=playground.allowed_hosts())],
    )
