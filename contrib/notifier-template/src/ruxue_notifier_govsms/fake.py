"""A fake of the government SMS platform, for the notifier's tests (never for production).

It checks the bearer token, answers the platform's codes, counts accepted sends per
``bizId`` and can fail (``1002``) on demand.
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
        platform.accepted[str(body.get("bizId"))] += 1
        return JSONResponse({"code": "0000", "msgId": uuid.uuid4().hex})

    return Starlette(routes=[Route("/api/sms/send", send, methods=["POST"])])
