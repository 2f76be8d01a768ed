"""A fake provincial government-service platform (集成审批 / 一件事 case library).

It takes case records pushed to its interfaces ("4.2.1", "4.2.2", or whatever names a
deployment configures), checks each request's signature, refuses malformed records with a
reason, keeps each (receipt number, version) once, acknowledges late when told to, fails on
demand, and keeps everything it received for tests to inspect.

Endpoints:

- ``POST /api/{interface}``: one record (a JSON object) signed with the headers
  ``X-App-Code``, ``X-Timestamp``, ``X-Nonce`` and ``X-Signature`` = hex HMAC-SHA256 with the
  app secret over ``app_code \\n timestamp \\n nonce \\n sha256-hex(body)``. Answers
  ``{"code": "0", "status": "received" | "acknowledged"}`` or, for a refused record,
  ``{"code": "E…", "status": "rejected", "message": reason}``; 401 for a bad signature and
  503 for an injected failure.
- ``POST /api/ack/query`` (signed alike): ``{"items": [{<receipt field>, <version field>}]}``
  → ``{"code": "0", "items": [{…, "status": "received" | "acknowledged" | "rejected" |
  "unknown", "message"}]}`` (回执查询).
- ``GET /healthz``; ``GET /admin/state``; ``PUT /admin/faults`` (``fail_rate``,
  ``lose_rate``, ``ack_delay``, ``down``); ``DELETE /admin/records``.

Which fields an interface needs is the fake's own configuration (:class:`InterfaceSpec`),
like the real platform's specification would be.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_APP_CODE: Final = "ruxue-sandbox"
DEFAULT_APP_SECRET: Final = "sandbox-platform-secret"
SIGNATURE_WINDOW: Final = 300.0


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    """What one interface requires of a record: the receipt-number and version fields and the
    fields that must be present and non-empty."""

    required: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """The platform's specification: its interfaces and the identity fields of a record."""

    receipt_field: str = "PROJID"
    version_field: str = "DATAVERSION"
    interfaces: Mapping[str, InterfaceSpec] = field(
        default_factory=lambda: {
            "4.2.1": InterfaceSpec(
                (
                    "PROJID",
                    "DATAVERSION",
                    "PROJPWD",
                    "SERVICECODE",
                    "TASKCODE",
                    "APPLYNAME",
                    "APPLY_CARDNUMBER",
                    "ACCEPT_TIME",
                    "DEPTID",
                    "APPLYFROM",
                    "PROMISE_ETIME",
                )
            ),
            "4.2.2": InterfaceSpec(("PROJID", "DATAVERSION", "RECORD_TYPE")),
        }
    )


@dataclass(slots=True)
class Stored:
    """One (receipt number, version) as the platform holds it."""

    interface: str
    body: dict[str, Any]
    received_at: float
    ack_at: float
    acks_delivered: int = 0


@dataclass(frozen=True, slots=True)
class Arrival:
    """One push as it arrived (repeats included)."""

    interface: str
    receipt_no: str
    version: int | None
    outcome: str
    at: float


class FakePlatform:
    """The platform's state and fault settings; safe to change while it serves.

    :param ack_delay: seconds from storing a record until it is acknowledged (``0``: the
        push itself answers ``acknowledged``).
    :param ack_jitter: up to this many seconds more, drawn per record.
    :param fail_rate: probability that a push or query answers 503 before storing anything.
    :param lose_rate: probability that a push is stored but answered 503 (the answer lost).
    """

    def __init__(
        self,
        *,
        spec: PlatformSpec | None = None,
        app_code: str = DEFAULT_APP_CODE,
        app_secret: str = DEFAULT_APP_SECRET,
        ack_delay: float = 0.0,
        ack_jitter: float = 0.0,
        fail_rate: float = 0.0,
        lose_rate: float = 0.0,
        strict_order: bool = True,
        seed: int | None = None,
    ) -> None:
        self.spec = spec or PlatformSpec()
        self.app_code = app_code
        self.app_secret = app_secret
        self.ack_delay = ack_delay
        self.ack_jitter = ack_jitter
        self.fail_rate = fail_rate
        self.lose_rate = lose_rate
        self.down = False
        self.strict_order = strict_order
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.stored: dict[tuple[str, int], Stored] = {}
        self.rejected: dict[tuple[str, int | None], str] = {}
        self.arrivals: list[Arrival] = []
        self.order_violations: list[tuple[str, int]] = []
        self.failures = 0

    # -- inspection --------------------------------------------------------------------------

    def versions(self, receipt_no: str) -> list[int]:
        """The versions held for a case, in the order they first arrived."""
        with self._lock:
            held = [(s.received_at, v) for (r, v), s in self.stored.items() if r == receipt_no]
        return [v for _, v in sorted(held)]

    def summary(self) -> dict[str, Any]:
        """Counts for ``GET /admin/state``."""
        with self._lock:
            return {
                "stored": len(self.stored),
                "acknowledged": sum(1 for s in self.stored.values() if s.acks_delivered),
                "arrivals": len(self.arrivals),
                "rejected": len(self.rejected),
                "failures": self.failures,
                "order_violations": len(self.order_violations),
                "cases": len({r for r, _ in self.stored}),
            }

    def clear(self) -> None:
        """Forget everything received."""
        with self._lock:
            self.stored.clear()
            self.rejected.clear()
            self.arrivals.clear()
            self.order_violations.clear()
            self.failures = 0

    # -- behaviour ---------------------------------------------------------------------------

    def roll(self, rate: float) -> bool:
        """Whether an injected fault with probability ``rate`` happens now."""
        with self._lock:
            return rate > 0 and self._random.random() < rate

    def check_signature(self, request_headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request is signed with this app's secret, recently."""
        code = request_headers.get("x-app-code", "")
        stamp = request_headers.get("x-timestamp", "")
        nonce = request_headers.get("x-nonce", "")
        given = request_headers.get("x-signature", "")
        if code != self.app_code or not nonce:
            return False
        try:
            if abs(time.time() - float(stamp)) > SIGNATURE_WINDOW:
                return False
        except ValueError:
            return False
        expected = sign(self.app_secret, code, stamp, nonce, body)
        return hmac.compare_digest(expected, given)

    def problem(self, interface: str, body: object) -> str | None:
        """Why a record is malformed for ``interface`` (in Chinese), or ``None``."""
        spec = self.spec.interfaces.get(interface)
        if spec is None:
            return f"接口 {interface} 不存在"
        if not isinstance(body, dict):
            return "办件数据应为 JSON 对象"
        for name in (self.spec.receipt_field, self.spec.version_field, *spec.required):
            value = body.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                return f"字段 {name} 不能为空"
        version = body.get(self.spec.version_field)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            return f"字段 {self.spec.version_field} 应为正整数"
        return None

    def take(self, interface: str, body: dict[str, Any]) -> tuple[str, str]:
        """Store a well-formed record once; return ``(status, message)``."""
        receipt = str(body[self.spec.receipt_field])
        version = int(body[self.spec.version_field])
        now = time.monotonic()
        with self._lock:
            key = (receipt, version)
            if key not in self.stored:
                held = [v for (r, v) in self.stored if r == receipt]
                if version != (max(held) if held else 0) + 1:
                    self.order_violations.append(key)
                    if self.strict_order:
                        self._arrive(interface, receipt, version, "rejected", now)
                        message = f"办件数据版本不连续（已有 {max(held) if held else 0}）"
                        self.rejected[key] = message
                        return "rejected", message
                delay = self.ack_delay + self._random.uniform(0, self.ack_jitter)
                self.stored[key] = Stored(interface, body, now, now + delay)
                self.rejected.pop(key, None)
            stored = self.stored[key]
            status = "acknowledged" if stored.ack_at <= now else "received"
            if status == "acknowledged":
                stored.acks_delivered += 1
            self._arrive(interface, receipt, version, status, now)
            return status, "成功"

    def reject(self, interface: str, body: object, message: str) -> None:
        """Remember a refused record."""
        receipt = version = None
        if isinstance(body, dict):
            receipt = body.get(self.spec.receipt_field)
            raw = body.get(self.spec.version_field)
            version = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        with self._lock:
            key = (str(receipt), version)
            self.rejected[key] = message
            self._arrive(interface, str(receipt), version, "rejected", time.monotonic())

    def _arrive(
        self, interface: str, receipt: str, version: int | None, outcome: str, at: float
    ) -> None:
        self.arrivals.append(Arrival(interface, receipt, version, outcome, at))

    def status_of(self, receipt: str, version: int) -> tuple[str, str]:
        """What the platform says about one record (回执查询)."""
        now = time.monotonic()
        with self._lock:
            stored = self.stored.get((receipt, version))
            if stored is not None:
                if stored.ack_at <= now:
                    stored.acks_delivered += 1
                    return "acknowledged", "已接收"
                return "received", "处理中"
            reason = self.rejected.get((receipt, version))
            if reason is not None:
                return "rejected", reason
            return "unknown", "无此办件数据"


def sign(secret: str, app_code: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The request signature: hex HMAC-SHA256 over code, time, nonce and the body's hash."""
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join((app_code, timestamp, nonce, digest)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _answer(code: str, status: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "status": status, "message": message, **extra})


def create_platform_app(platform: FakePlatform) -> Starlette:
    """A Starlette app serving ``platform``."""

    async def guarded(request: Request) -> tuple[bytes, Response | None]:
        body = await request.body()
        if platform.down or platform.roll(platform.fail_rate):
            with platform._lock:
                platform.failures += 1
            return body, JSONResponse({"code": "503", "message": "系统繁忙"}, status_code=503)
        if not platform.check_signature(request.headers, body):
            return body, JSONResponse({"code": "401", "message": "签名无效"}, status_code=401)
        return body, None

    async def push(request: Request) -> Response:
        interface = request.path_params["interface"]
        body, refused = await guarded(request)
        if refused is not None:
            return refused
        try:
            record = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        problem = platform.problem(interface, record)
        if problem is not None:
            platform.reject(interface, record, problem)
            return _answer("E4001", "rejected", problem)
        assert isinstance(record, dict)
        status, message = platform.take(interface, record)
        if status == "rejected":
            return _answer("E4002", status, message)
        if platform.roll(platform.lose_rate):
            with platform._lock:
                platform.failures += 1
            return JSONResponse({"code": "503", "message": "网关超时"}, status_code=503)
        return _answer("0", status, message)

    async def query(request: Request) -> Response:
        body, refused = await guarded(request)
        if refused is not None:
            return refused
        try:
            items = json.loads(body).get("items")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            items = None
        if not isinstance(items, list):
            return JSONResponse({"code": "400", "message": "items 应为数组"}, status_code=400)
        answers: list[dict[str, Any]] = []
        spec = platform.spec
        for item in items:
            receipt = item.get(spec.receipt_field) if isinstance(item, dict) else None
            version = item.get(spec.version_field) if isinstance(item, dict) else None
            if not isinstance(receipt, str) or not isinstance(version, int):
                answers.append({"status": "unknown", "message": "查询条件不完整"})
                continue
            status, message = platform.status_of(receipt, version)
            answers.append(
                {
                    spec.receipt_field: receipt,
                    spec.version_field: version,
                    "status": status,
                    "message": message,
                }
            )
        return JSONResponse({"code": "0", "items": answers})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def state(_request: Request) -> Response:
        return JSONResponse(platform.summary())

    async def faults(request: Request) -> Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"message": "请求体应为 JSON 对象"}, status_code=400)
        for name in ("fail_rate", "lose_rate", "ack_delay"):
            value = body.get(name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    return JSONResponse({"message": f"{name} 应为非负数"}, status_code=400)
                setattr(platform, name, float(value))
        if isinstance(body.get("down"), bool):
            platform.down = body["down"]
        return JSONResponse(
            {
                "fail_rate": platform.fail_rate,
                "lose_rate": platform.lose_rate,
                "ack_delay": platform.ack_delay,
                "down": platform.down,
            }
        )

    async def clear(_request: Request) -> Response:
        platform.clear()
        return JSONResponse({"cleared": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/ack/query", query, methods=["POST"]),
            Route("/api/{interface}", push, methods=["POST"]),
            Route("/admin/state", state, methods=["GET"]),
            Route("/admin/faults", faults, methods=["PUT"]),
            Route("/admin/records", clear, methods=["DELETE"]),
        ]
    )
