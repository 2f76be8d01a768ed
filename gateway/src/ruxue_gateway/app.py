"""The Starlette application: ``/graphql``, health and readiness probes, Prometheus metrics.

``create_app()`` builds everything from settings. In embedded mode the app migrates its
SQLite file on start and runs an in-process outbox worker; in production, workers are
separate ``ruxue worker`` processes and migrations are an explicit ``ruxue migrate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.migrate import upgrade_async
from ruxue_core.runtime import Runtime
from ruxue_core.services.operations import job_counts
from ruxue_core.settings import Mode, Settings
from ruxue_gateway.context import Context, authenticate
from ruxue_gateway.schema import build_schema

log = logging.getLogger(__name__)


class RuxueGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Ruxue's authenticated context."""

    def __init__(self, runtime: Runtime, *, development: bool) -> None:
        super().__init__(
            build_schema(mask_errors=not development),
            graphql_ide="graphiql" if development else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=True,
        )
        self.runtime = runtime

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """Authenticate the request through the configured identity providers."""
        principal = authenticate(self.runtime, request.headers.get("authorization"))
        return Context(runtime=self.runtime, principal=principal, request=request)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    in_process_worker: bool | None = None,
    extra_plugins: Iterable[object] = (),
) -> Starlette:
    """Build the gateway.

    :param settings: defaults to ``Settings()`` (``ruxue.toml`` and ``RUXUE_*`` variables).
    :param runtime: an existing runtime to serve (tests); otherwise one is built here.
    :param in_process_worker: run an outbox worker inside the app; defaults to embedded mode.
    :param extra_plugins: plugin objects to register besides the installed ones.
    """
    settings = settings or (runtime.settings if runtime else Settings())
    runtime = runtime or Runtime.create(settings, extra_plugins=extra_plugins)
    embedded = settings.mode is Mode.EMBEDDED
    run_worker = embedded if in_process_worker is None else in_process_worker
    graphql = RuxueGraphQL(runtime, development=embedded)
    metrics = _Metrics(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if embedded:
            await upgrade_async(settings.resolved_database_url)
        stop = asyncio.Event()
        worker_task = (
            asyncio.create_task(Worker(runtime, HANDLERS).run(stop)) if run_worker else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            await runtime.close()

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        try:
            async with runtime.db.session(read_only=True) as session:
                await (await session.connection()).execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("not ready: %s", exc)
            return JSONResponse({"ready": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ready": True})

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


class _Metrics:
    """Prometheus metrics in the app's own registry, refreshed on each scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry()
        self.jobs = Gauge("ruxue_jobs", "Outbox jobs by state", ["status"], registry=self.registry)

    async def endpoint(self, _request: Request) -> Response:
        async with self.runtime.unit_of_work(read_only=True) as uow:
            counts = await job_counts(uow)
        for status, n in counts.items():
            self.jobs.labels(status=status.value).set(n)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
