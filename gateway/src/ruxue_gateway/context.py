"""The per-request GraphQL context: who is asking, from where, and how to reach the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_gateway.loaders import Loaders


@dataclass
class Context:
    """Read in resolvers through ``strawberry.Info[Context, None]``.

    ``request`` is ``None`` when the schema is executed in-process (tests, scripts).
    ``client`` is the caller's address (behind a proxy, as the proxy reported it).
    ``loaders`` are this request's DataLoaders (new for every request: nothing is cached
    across requests or principals). ``authorization`` is the credential that proved
    ``principal`` (subscriptions check it again before each update); ``connection_params`` is
    a WebSocket's ``connection_init`` payload. Over WebSocket one context serves the whole
    connection.
    """

    runtime: Runtime
    principal: Principal | None
    request: Request | WebSocket | None = None
    client: str | None = None
    authorization: str | None = None
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.runtime, self.principal)
