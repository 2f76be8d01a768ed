"""The per-request GraphQL context: who is asking, from where, and how to reach the core."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.websockets import WebSocket

from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime


@dataclass
class Context:
    """Read in resolvers through ``strawberry.Info[Context, None]``.

    ``request`` is ``None`` when the schema is executed in-process (tests, scripts).
    ``client`` is the caller's address (behind a proxy, as the proxy reported it).
    """

    runtime: Runtime
    principal: Principal | None
    request: Request | WebSocket | None = None
    client: str | None = None
