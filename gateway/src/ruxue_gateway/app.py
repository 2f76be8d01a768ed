"""The Starlette application: ``/graphql``, health and readiness probes, Prometheus metrics,
guardians' sign-in routes under ``/auth`` (see :mod:`ruxue_gateway.auth`) and the SMS
vendors' delivery-receipt callbacks under ``/sms/receipts`` (:mod:`ruxue_gateway.receipts`).

``create_app()`` builds everything from settings and refuses to build on a wrong production
configuration (a missing key, an identity provider or plugin that is not installed). In
embedded mode the app migrates its SQLite file on start; an outbox worker runs in-process when
``worker.in_process`` says so (by default: embedded yes, production no).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Final

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from ruxue_core.handlers import HANDLERS, PERIODIC
from ruxue_core.jobs import Worker
from ruxue_core.migrate import upgrade_async
from ruxue_core.runtime import Runtime
from ruxue_core.services.operations import ping
from ruxue_core.settings import Settings
from ruxue_gateway.auth import AuthRoutes
from ruxue_gateway.context import Context
from ruxue_gateway.downloads import DownloadRoutes
from ruxue_gateway.limits import BodyLimit, multipart_limit
from ruxue_gateway.metrics import Metrics
from ruxue_gateway.persisted import PersistedQueries
from ruxue_gateway.publication_downloads import PublicationRoutes
from ruxue_gateway.receipts import ReceiptRoutes
from ruxue_gateway.requests import HEADER, RequestIdMiddleware
from ruxue_gateway.schema import build_schema

log = logging.getLogger(__name__)

PREFLIGHT_HEADERS: Final = ("Apollo-Require-Preflight", "X-Apollo-Operation-Name")
"""A multipart request must carry one of these (non-empty): a browser sends such a header
cross-site only after a CORS preflight, so a plain HTML form cannot forge an upload (CSRF)."""


ACK: Final[UnsetType] = UNSET
"""``connection_ack`` without a payload."""


class RuxueGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Ruxue's authenticated context and document limit."""

    def __init__(
        self, runtime: Runtime, metrics: Metrics, persisted_queries: PersistedQueries
    ) -> None:
        settings = runtime.settings
        super().__init__(
            build_schema(
                production=not settings.embedded,
                cached_document_chars=settings.limits.cached_document_chars,
                observers=[metrics.extension(), persisted_queries.extension()],
            ),
            graphql_ide="graphiql" if settings.embedded else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=settings.subscriptions.per_connection,
            allowed_origins=settings.cors_origins,
        )
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's HTTP handling, then close the request: a multipart request's uploaded
        files (spooled to temporary files) are closed whatever the resolvers did."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            try:
                response = await self.run(request)
            except HTTPException as exc:
                response = PlainTextResponse(exc.reason, status_code=exc.status_code)
            await response(scope, receive, send)
        finally:
            await request.close()

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's GraphQL document and variables; a document over the size limit is
        refused (413) before the parser sees it, a multipart request without a preflight
        header (400) before its parts are read."""
        content_type = (request.content_type or "").lower()
        if content_type.startswith("multipart/form-data") and not any(
            request.headers.get(name) for name in PREFLIGHT_HEADERS
        ):
            raise HTTPException(
                400, "multipart 请求须带 Apollo-Require-Preflight 请求头 (CSRF protection)"
            )
        data = await super().parse_http_body(request)
        limit = self.runtime.settings.limits.max_document_chars
        for item in data if isinstance(data, list) else [data]:
            if item.query is not None and len(item.query) > limit:
                raise HTTPException(413, f"GraphQL 文档过长（上限 {limit} 个字符）")
        return data

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """Authenticate the request through the configured identity providers."""
        authorization = request.headers.get("authorization")
        principal = await self.runtime.authenticate(authorization)
        client = request.client.host if request.client else None
        return Context(
            runtime=self.runtime,
            principal=principal,
            request=request,
            client=client,
            authorization=authorization if principal is not None else None,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """``connection_init``: its payload's ``Authorization`` (the same bearer token as over
        HTTP) signs the connection in. A credential that proves no one (forged, expired,
        ended) closes the connection (4403); no credential leaves it anonymous."""
        params = context.connection_params or {}
        raw = params.get("Authorization", params.get("authorization"))
        if raw is None:
            return ACK
        principal = await self.runtime.authenticate(raw) if isinstance(raw, str) else None
        if principal is None:
            raise ConnectionRejectionError(
                {"code": "INVALID_CREDENTIALS", "message": "登录凭证无效或已过期，请重新登录"}
            )
        context.principal, context.authorization = principal, raw
        return ACK


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
    :param in_process_worker: run an outbox worker inside the app; defaults to the setting.
    :param extra_plugins: plugin objects to register besides the installed ones.
    :raises ConfigurationError: the configuration cannot work (names the setting).
    """
    settings = settings or (runtime.settings if runtime else Settings())
    runtime = runtime or Runtime.create(settings, extra_plugins=extra_plugins)
    run_worker = settings.runs_in_process_worker if in_process_worker is None else in_process_worker
    metrics = Metrics(runtime)
    persisted_queries = PersistedQueries.from_settings(settings)
    graphql = RuxueGraphQL(runtime, metrics, persisted_queries)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if settings.embedded:
            await upgrade_async(settings.resolved_database_url, settings=settings)
        stop = asyncio.Event()
        worker_task = (
            asyncio.create_task(Worker(runtime, HANDLERS, periodic=PERIODIC).run(stop))
            if run_worker
            else None
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
            await ping(runtime)
        except Exception as exc:
            log.warning("not ready: %s", type(exc).__name__)
            return JSONResponse({"ready": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ready": True})

    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(
            BodyLimit,
            max_bytes=settings.limits.max_body_bytes,
            multipart_max_bytes=multipart_limit(
                settings.limits.max_body_bytes, settings.uploads.max_bytes
            ),
        ),
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", HEADER, *PREFLIGHT_HEADERS],
                expose_headers=[HEADER],
            )
        )
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            *AuthRoutes(runtime).routes(),
            *ReceiptRoutes(runtime).routes(),
            *DownloadRoutes(runtime).routes(),
            *PublicationRoutes(runtime).routes(),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.persisted_queries = persisted_queries
    return app
