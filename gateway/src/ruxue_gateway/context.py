"""The per-request GraphQL context: who is asking and how to reach the core."""

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
    """

    runtime: Runtime
    principal: Principal | None
    request: Request | WebSocket | None = None


def authenticate(runtime: Runtime, authorization: str | None) -> Principal | None:
    """Ask each configured identity provider in turn; anonymous when none accepts."""
    if not authorization:
        return None
    for _, provider in runtime.host.identity_providers():
        principal = provider.authenticate(authorization)
        if principal is not None:
            return principal
    return None
