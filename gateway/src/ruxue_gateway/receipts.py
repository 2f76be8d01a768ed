"""Delivery-receipt callbacks: ``POST /sms/receipts/{vendor}/{token}``.

Neither Alibaba Cloud nor Tencent Cloud signs its callbacks, so the URL carries a secret
token (``sms.receipt_token``, compared in constant time); without one configured the route
answers 404 like any unknown path. The body is parsed by the vendor's own notifier and
recorded idempotently (vendors repeat callbacks). The answer satisfies both vendors' checks
(``{"code": 0}`` for Alibaba Cloud, ``{"result": 0}`` for Tencent Cloud); a malformed body
gets 400 so the vendor does not count it delivered. The token never reaches a log line.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ruxue_core.errors import InvalidInput, NotFound
from ruxue_core.runtime import Runtime
from ruxue_core.services.messages import record_receipts

log = logging.getLogger(__name__)

ACKNOWLEDGED = {"code": 0, "msg": "接收成功", "result": 0, "errmsg": "OK"}


class ReceiptRoutes:
    """The vendors' receipt callback route, bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def routes(self) -> list[Route]:
        """The Starlette routes to mount."""
        return [Route("/sms/receipts/{vendor}/{token}", self.receive, methods=["POST"])]

    def _token_ok(self, token: str) -> bool:
        expected = self.runtime.settings.sms.receipt_token
        if expected is None:
            return False
        return hmac.compare_digest(token.encode(), expected.get_secret_value().encode())

    async def receive(self, request: Request) -> Response:
        """Record one callback's receipts; acknowledge in the vendors' shape."""
        vendor = str(request.path_params["vendor"])
        if not self._token_ok(str(request.path_params["token"])):
            return JSONResponse({"code": 404, "result": 404, "errmsg": "not found"}, 404)
        try:
            tally = await record_receipts(self.runtime, vendor, await request.body())
        except NotFound:
            return JSONResponse({"code": 404, "result": 404, "errmsg": "unknown vendor"}, 404)
        except InvalidInput as exc:
            return JSONResponse({"code": 400, "result": 400, "errmsg": exc.message}, 400)
        log.info(
            "sms receipts from %s: %d new, %d repeated, %d matched",
            vendor,
            tally.new,
            tally.repeated,
            tally.matched,
        )
        return JSONResponse(ACKNOWLEDGED)
