"""Request body limit: a body over the limit gets 413 before anything parses it.

A declared ``Content-Length`` over the limit is refused without reading the body; a body sent
in chunks (no length declared) is counted as it arrives and refused as soon as it passes the
limit. A ``multipart/form-data`` request (a GraphQL multipart upload) has its own, larger
limit: the material size limit plus room for the other parts (:func:`multipart_limit`).
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE: Final = "请求体过大 (request body too large)"
MULTIPART_OVERHEAD: Final = 64 * 1024
"""Room in a multipart body for its ``operations`` and ``map`` parts and the part headers."""


def multipart_limit(max_body_bytes: int, max_upload_bytes: int) -> int:
    """The body limit of a multipart request: one file of the upload limit plus overhead
    (never less than the ordinary limit)."""
    return max(max_body_bytes, max_upload_bytes + MULTIPART_OVERHEAD)


class _TooLarge(Exception):
    """Raised from ``receive`` once the body passed the limit."""


class BodyLimit:
    """ASGI middleware refusing HTTP request bodies larger than ``max_bytes`` with 413
    (``multipart_max_bytes`` for ``multipart/form-data`` requests)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, multipart_max_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_max_bytes = multipart_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting ``receive``; answer 413 when it overflows."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lstrip().lower()
        multipart = content_type.startswith(b"multipart/form-data")
        limit = self.multipart_max_bytes if multipart else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _refuse(send)


async def _refuse(send: Send) -> None:
    body = json.dumps({"errors": [{"message": TOO_LARGE}]}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
