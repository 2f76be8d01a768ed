"""Request ids: every HTTP request and WebSocket connection gets one, echoed in the
``X-Request-ID`` response header and carried into the logs of everything done for it.

A sane incoming ``X-Request-ID`` (1–64 characters of letters, digits, ``-``, ``_``, ``.``,
``:``; e.g. a load balancer's) is kept, so one id follows a request across services; anything
else is replaced by a new random id. One access line per request is logged at INFO (method,
path, status, duration; never a query string, body or variable).
"""

from __future__ import annotations

import base64
import logging
import random
import re
import secrets
import time
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ruxue_core.logs import REQUEST_ID

HEADER: Final = "X-Request-ID"
SANE: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")

access = logging.getLogger("ruxue.access")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The incoming request id if it is sane, else a new one."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if SANE.fullmatch(text):
                return text
            break
    return new_request_id()


_IDS: Final = random.Random(secrets.randbits(128))  # noqa: S311 - ids, not secrets
"""Request ids need to be unique, not unpredictable: a seeded generator saves a system call
per request."""


def new_request_id() -> str:
    """26 random base32 characters (a–z, 2–7): never a run of digits that a log scan or the
    redaction filter could take for a phone or ID number (a hex id sometimes is one)."""
    raw = _IDS.getrandbits(128).to_bytes(16, "big")
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


class RequestIdMiddleware:
    """ASGI middleware: sets :data:`ruxue_core.logs.REQUEST_ID`, echoes the header, logs the
    request's outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request under its id."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(list(scope.get("headers") or []))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.accept"):
                status = message.get("status", 101)
                headers = list(message.get("headers") or [])
                headers.append((HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access.info(
                "%s %s %s %.1fms",
                scope.get("method", "WS"),
                scope.get("path", ""),
                status,
                (time.perf_counter() - started) * 1000,
            )
            REQUEST_ID.reset(token)
