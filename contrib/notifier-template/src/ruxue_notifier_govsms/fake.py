"""A fake of the government SMS platform, for the notifier's tests (never for production).

It checks the bearer token, answers the platform's codes, counts accepted sends per
``bizId``, answers status queries by ``bizId`` and can fail (``1002``) on demand.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class FakePlatform:
    """The fake's state: its token, what it accepted, whether it is failing."""

    token: str
    templates: frozenset[str] = frozenset({"T1001", "T1002", "T1003"})
    failing: bool = False
    accepted: Counter[str] = field(default_factory=Counter)
    message_ids: dict[str, str] = field(default_factory=dict)
    """The platform's ``msgId`` of each accepted ``bizId``."""


def create_fake_app(platform: FakePlatform) -> Starlette:
    """The fake's ASGI app: ``POST /api/sms/send``."""

    async def send(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {platform.token}":
            return JSONResponse({"code": "4010", "msg": "令牌无效"}, status_code=401)
        body = await request.json()
        if platform.failing:
            return JSONResponse({"code": "1002", "msg": "系统繁忙"})
        mobile = str(body.get("mobile", ""))
        if not (mobile.isdigit() and len(mobile) == 11):
            return JSONResponse({"code": "2001", "msg": "号码格式错误"})
        if body.get("templateId") not in platform.templates:
            return JSONResponse({"code": "2002", "msg": "模板不存在"})
        biz_id = str(body.get("bizId"))
        platform.accepted[biz_id] += 1
        platform.message_ids[biz_id] = uuid.uuid4().hex
        return JSONResponse({"code": "0000", "msgId": platform.message_ids[biz_id]})

    async def status(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {platform.token}":
            return JSONResponse({"code": "4010", "msg": "令牌无效"}, status_code=401)
        if platform.failing:
            return JSONResponse({"code": "1002", "msg": "系统繁忙"}, status_code=503)
        msg_id = platform.message_ids.get(str(request.path_params["biz_id"]))
        if msg_id is None:
            return JSONResponse({"code": "3001", "msg": "无此短信"})
        return JSONResponse({"code": "0000", "msgId": msg_id, "status": "SENT"})

    return Starlette(
        routes=[
            Route("/api/sms/send", send, methods=["POST"]),
            Route("/api/sms/status/{biz_id}", status, methods=["GET"]),
        ]
    )
