"""The ladder's two floors: what serving a JSON POST costs before any of Ruxue runs.

``starlette``: a raw Starlette endpoint that parses the JSON body and answers
``{"data": {"hello": "world"}}``. ``strawberry``: a one-field Strawberry schema (``{ hello }``)
with the parser and validation caches, through ``strawberry.asgi.GraphQL`` on Starlette.
Both also answer ``GET /healthz``.

Run one as its own process, served the way ``ruxue serve`` serves the gateway (one uvicorn
process, default loop, ``log_config=None``)::

    python tests/bench/floor.py strawberry --port 8001
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


@strawberry.type
class Query:
    """The trivial schema's only type."""

    @strawberry.field
    def hello(self) -> str:
        """A constant: the schema does no work of its own."""
        return "world"


async def healthz(_request: Request) -> Response:
    """Liveness, as ``ruxue serve`` answers it."""
    return PlainTextResponse("ok")


async def raw_graphql(request: Request) -> Response:
    """Parse the JSON body and answer what the trivial schema would, without GraphQL."""
    body = await request.json()
    if not isinstance(body, dict) or "query" not in body:
        return JSONResponse({"errors": [{"message": "no query"}]}, status_code=400)
    return JSONResponse({"data": {"hello": "world"}})


def starlette_app() -> Starlette:
    """Rung 1: a raw Starlette JSON POST endpoint."""
    return Starlette(
        routes=[Route("/graphql", raw_graphql, methods=["POST"]), Route("/healthz", healthz)]
    )


def strawberry_app() -> Starlette:
    """Rung 2: the trivial schema with parser and validation caches, on Starlette."""
    schema = strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])
    graphql = GraphQL[None, None](schema, graphql_ide=None, allow_queries_via_get=False)
    return Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/healthz", healthz)]
    )


APPS: Final[dict[str, Callable[[], Starlette]]] = {
    "starlette": starlette_app,
    "strawberry": strawberry_app,
}


def main() -> None:
    """Serve one floor app on loopback until interrupted."""
    parser = argparse.ArgumentParser(description="Serve one of the ladder's floor apps.")
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(APPS[args.app](), host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
