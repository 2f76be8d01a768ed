"""Fake SMS vendors: Alibaba Cloud (Dysmsapi ``SendSms``) and Tencent Cloud (SMS ``SendSms``).

Each fake checks the request signature exactly as the vendor documents it, recomputed from the
raw request with its own implementation of the published algorithm (never the SDK's code):

- Alibaba Cloud V3, ``ACS3-HMAC-SHA256`` (what ``alibabacloud_tea_openapi`` sends by
  default): the canonical request is method, path, the sorted and percent-encoded query,
  the headers named in ``SignedHeaders`` (lower-cased ``name:value`` lines), the signed
  header list and the hex SHA-256 of the body (also sent as ``x-acs-content-sha256``);
  the signature is hex HMAC-SHA256(secret, ``"ACS3-HMAC-SHA256\\n" + hex(sha256(canonical))``).
- Tencent Cloud API 3.0, ``TC3-HMAC-SHA256``: canonical request over ``content-type`` and
  ``host``; the key is derived as HMAC chains ``"TC3"+key → date → service → "tc3_request"``.

A wrong secret, an unknown key id, a stale timestamp or a reused nonce is refused with the
vendor's own error shape (``SignatureDoesNotMatch``; ``AuthFailure.SignatureFailure``).

The fakes count every accepted send per correlation id (Aliyun ``OutId``, Tencent
``SessionContext``) and per phone, can fail a fraction of sends (a temporary vendor error),
throttle above a rate (the vendor's flow-control error), and call delivery receipts back in
the vendor's format to a configured URL, in batches, sometimes twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_SKEW_SECONDS = 900
CHINA = timezone(timedelta(hours=8))


@dataclass
class SmsVendorFake:
    """The state of one fake vendor, shared between its server thread and the test.

    :ivar credentials: access key id → secret.
    :ivar fail_fraction: the share of sends answered with a temporary vendor error.
    :ivar throttle_per_second: the vendor's flow control: sends beyond this rate are answered
        with its flow-control error (``None``: never). Policed as GCRA at the arrival side,
        allowing ``throttle_tolerance`` seconds of delay variation (ATM's CDVT): requests
        spaced exactly at the rate by the sender reach the vendor with network and
        scheduling jitter, and that alone must not count as excess.
    :ivar receipt_url: where delivery receipts are POSTed (``None``: none are sent).
    :ivar receipt_delay: seconds between a send and its receipt.
    :ivar duplicate_fraction: the share of receipts sent twice (vendors repeat callbacks).
    :ivar undeliverable_prefix: phones starting with it get a failed delivery receipt.
    :ivar stall_fraction: the share of accepted sends answered only after ``stall_seconds``
        (a vendor that took the message but whose answer is late: the caller times out).

    Both fakes answer their vendor's status queries from what they accepted: Alibaba Cloud
    ``QuerySendDetails`` (by phone and day; a record exists from acceptance, ``SendStatus``
    1 waiting for its report, 3 delivered, 2 failed) and Tencent Cloud
    ``PullSmsSendStatusByPhoneNumber`` (by phone and time range; like the real service, only
    messages whose carrier report has come in).
    """

    credentials: dict[str, str]
    fail_fraction: float = 0.0
    throttle_per_second: float | None = None
    throttle_tolerance: float = 0.25
    receipt_url: str | None = None
    receipt_delay: float = 0.05
    duplicate_fraction: float = 0.0
    undeliverable_prefix: str | None = None
    stall_fraction: float = 0.0
    stall_seconds: float = 1.0
    seed: int | None = None
    accepted: Counter[str] = field(default_factory=Counter)
    """Accepted sends per correlation id."""
    phones: Counter[str] = field(default_factory=Counter)
    """Accepted sends per phone number."""
    failed: int = 0
    throttled: int = 0
    refused_signatures: int = 0
    stalled: int = 0
    queries: int = 0
    receipts_sent: int = 0
    receipt_errors: int = 0
    arrivals: list[float] = field(default_factory=list)
    """Monotonic arrival times of every signed send (accepted, failed or throttled)."""
    last: dict[str, Any] = field(default_factory=dict)
    """The last accepted send's parameters (for tests)."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._tat = 0.0
        self._nonces: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._records: list[SentRecord] = []

    def max_per_window(self, window: float = 1.0) -> int:
        """The most sends that arrived within any ``window`` seconds."""
        with self._lock:
            times = sorted(self.arrivals)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def sends(self) -> Counter[str]:
        """A copy of the accepted sends per correlation id (safe while the server runs)."""
        with self._lock:
            return Counter(self.accepted)

    def reset(self) -> None:
        """Forget every count (the configuration stays)."""
        with self._lock:
            self.accepted.clear()
            self.phones.clear()
            self.arrivals.clear()
            self.failed = self.throttled = self.refused_signatures = 0
            self.receipts_sent = self.receipt_errors = 0

    def _nonce_seen(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._nonces:
                return True
            self._nonces.add(nonce)
            return False

    def _decide(self, arrived: float | None = None) -> str:
        """``ok``, ``fail`` or ``throttle`` for one signed send; records its arrival."""
        now = arrived if arrived is not None else time.monotonic()
        with self._lock:
            self.arrivals.append(now)
            if self.throttle_per_second is not None:
                arrival = max(self._tat, now)
                if arrival - now > self.throttle_tolerance:
                    self.throttled += 1
                    return "throttle"
                self._tat = arrival + 1.0 / self.throttle_per_second
            if self._random.random() < self.fail_fraction:
                self.failed += 1
                return "fail"
            return "ok"

    def _accept(
        self,
        correlation: str,
        phone: str,
        params: dict[str, Any],
        *,
        vendor_id: str = "",
        delivered: bool = True,
        template: str = "",
    ) -> bool:
        """Count an accepted send and keep its record; ``True`` when its answer should
        stall (see ``stall_fraction``)."""
        with self._lock:
            self.accepted[correlation] += 1
            self.phones[phone] += 1
            self.last = params
            self._records.append(
                SentRecord(
                    correlation,
                    phone,
                    vendor_id,
                    delivered,
                    template,
                    time.time(),
                    time.time() + self.receipt_delay,
                )
            )
            stall = self.stall_fraction > 0 and self._random.random() < self.stall_fraction
            self.stalled += int(stall)
            return stall

    def records_for(self, phone: str, start: float, end: float) -> list[SentRecord]:
        """The accepted sends to ``phone`` between ``start`` and ``end`` (epoch seconds)."""
        with self._lock:
            self.queries += 1
            return [r for r in self._records if r.phone == phone and start <= r.sent <= end]

    def _queue_receipt(self, receipt: dict[str, Any]) -> None:
        if self.receipt_url is None:
            return
        with self._lock:
            copies = 2 if self._random.random() < self.duplicate_fraction else 1
            due = time.monotonic() + self.receipt_delay
            self._pending.extend([{"due": due, "body": receipt}] * copies)

    def _due_receipts(self, limit: int = 200) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            due = [r for r in self._pending if r["due"] <= now][:limit]
            if due:
                ids = {id(r) for r in due}
                self._pending = [r for r in self._pending if id(r) not in ids]
        return [r["body"] for r in due]


@dataclass(frozen=True, slots=True)
class SentRecord:
    """One accepted send as the vendor keeps it (what its status queries answer from)."""

    correlation: str
    phone: str
    vendor_id: str
    delivered: bool
    template: str
    sent: float
    reported: float
    """When the carrier's report comes in (epoch seconds)."""


def _china_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, CHINA)


async def _post_receipts(fake: SmsVendorFake, stop: asyncio.Event) -> None:
    """Call receipts back in batches until stopped; a refused batch is retried later."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        while not stop.is_set():
            batch = fake._due_receipts()
            if not batch or fake.receipt_url is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)
                continue
            try:
                response = await client.post(fake.receipt_url, json=batch)
                response.raise_for_status()
                fake.receipts_sent += len(batch)
            except httpx.HTTPError:
                fake.receipt_errors += 1
                with fake._lock:
                    due = time.monotonic() + 0.5
                    fake._pending.extend({"due": due, "body": body} for body in batch)


def _lifespan(
    fake: SmsVendorFake,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(_post_receipts(fake, stop))
        try:
            yield
        finally:
            stop.set()
            await task

    return lifespan


class _Arrivals:
    """ASGI wrapper that stamps each request's arrival before anything else runs."""

    def __init__(self, app: ASGIApp, fake: SmsVendorFake) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrived"] = time.monotonic()
        await self.app(scope, receive, send)


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- Alibaba Cloud ---------------------------------------------------------------------------


def _acs3_encode(value: str) -> str:
    return quote(value, safe="~")


def acs3_signature(
    secret: str,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    """The ACS3-HMAC-SHA256 signature (Alibaba Cloud's published V3 algorithm, hex)."""
    canonical_query = "&".join(
        f"{_acs3_encode(k)}={_acs3_encode(v)}" for k, v in sorted(query, key=lambda kv: kv[0])
    )
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    canonical = "\n".join(
        [
            method,
            path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def _aliyun_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "RequestId": str(uuid.uuid4()).upper(),
            "Code": code,
            "Message": message,
            "HostId": "dysmsapi.aliyuncs.com",
        },
        status_code=status,
    )


def _parse_acs3(header: str) -> tuple[str, list[str], str] | None:
    if not header.startswith("ACS3-HMAC-SHA256 "):
        return None
    parts = dict(
        item.strip().split("=", 1)
        for item in header.removeprefix("ACS3-HMAC-SHA256 ").split(",")
        if "=" in item
    )
    if not {"Credential", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    return parts["Credential"], parts["SignedHeaders"].split(";"), parts["Signature"]


async def _aliyun_verify(fake: SmsVendorFake, request: Request) -> JSONResponse | None:
    """``None`` when the request is properly signed, else the vendor's error response."""
    body = await request.body()
    parsed = _parse_acs3(request.headers.get("authorization", ""))
    if parsed is None:
        return _aliyun_error(400, "MissingAuthorization", "Authorization is mandatory.")
    key_id, signed, signature = parsed
    secret = fake.credentials.get(key_id)
    if secret is None:
        fake.refused_signatures += 1
        return _aliyun_error(
            404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        )
    headers = {k.lower(): v for k, v in request.headers.items()}
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-acs-content-sha256") != payload_hash or any(h not in headers for h in signed):
        fake.refused_signatures += 1
        return _aliyun_error(400, "IncompleteSignature", "The request signature does not conform.")
    query = parse_qsl(request.url.query, keep_blank_values=True)
    expected = acs3_signature(
        secret, request.method, request.url.path, query, headers, signed, payload_hash
    )
    if not hmac.compare_digest(expected, signature):
        fake.refused_signatures += 1
        return _aliyun_error(
            400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        )
    stamp = headers.get("x-acs-date", "")
    try:
        skew = abs(datetime.now(UTC).timestamp() - datetime.fromisoformat(stamp).timestamp())
    except ValueError:
        skew = MAX_SKEW_SECONDS + 1
    nonce = headers.get("x-acs-signature-nonce", "")
    if skew > MAX_SKEW_SECONDS or not nonce or fake._nonce_seen(nonce):
        fake.refused_signatures += 1
        return _aliyun_error(
            400, "SignatureNonceUsed", "Specified signature nonce was used already."
        )
    return None


def create_aliyun_sms_app(fake: SmsVendorFake) -> ASGIApp:
    """A fake Alibaba Cloud SMS endpoint (``POST /`` with ``x-acs-action: SendSms``).

    Answers ``{"Code": "OK", "BizId": …}``; ``isp.SYSTEM_ERROR`` when failing on demand,
    ``isv.BUSINESS_LIMIT_CONTROL`` when throttling. Receipts are SmsReport arrays.
    """

    async def endpoint(request: Request) -> JSONResponse:
        refused = await _aliyun_verify(fake, request)
        if refused is not None:
            return refused
        action = request.headers.get("x-acs-action")
        if action not in ("SendSms", "QuerySendDetails"):
            return _aliyun_error(404, "InvalidAction.NotFound", "Specified api is not found.")
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        params |= dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if action == "QuerySendDetails":
            return _aliyun_details(fake, params)
        phone = params.get("PhoneNumbers", "")
        if not phone.isdigit():
            return JSONResponse(
                {
                    "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                    "Message": "非法手机号",
                    "RequestId": str(uuid.uuid4()),
                }
            )
        decision = fake._decide(request.state.arrived)
        request_id = str(uuid.uuid4()).upper()
        if decision == "throttle":
            return JSONResponse(
                {
                    "Code": "isv.BUSINESS_LIMIT_CONTROL",
                    "Message": "触发流控",
                    "RequestId": request_id,
                }
            )
        if decision == "fail":
            return JSONResponse(
                {"Code": "isp.SYSTEM_ERROR", "Message": "系统错误", "RequestId": request_id}
            )
        out_id = params.get("OutId", "")
        biz_id = f"{random.randint(100000, 999999)}^{uuid.uuid4().int % 10**12}"
        delivered = not (fake.undeliverable_prefix and phone.startswith(fake.undeliverable_prefix))
        stall = fake._accept(
            out_id,
            phone,
            params,
            vendor_id=biz_id,
            delivered=delivered,
            template=params.get("TemplateCode", ""),
        )
        fake._queue_receipt(
            {
                "phone_number": phone,
                "send_time": _now_text(),
                "report_time": _now_text(),
                "success": delivered,
                "err_code": "DELIVERED" if delivered else "MK:0001",
                "err_msg": "用户接收成功" if delivered else "用户停机",
                "sms_size": "1",
                "biz_id": biz_id,
                "out_id": out_id,
            }
        )
        if stall:
            await asyncio.sleep(fake.stall_seconds)
        return JSONResponse(
            {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}
        )

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])], lifespan=_lifespan(fake))
    return _Arrivals(app, fake)


def _aliyun_details(fake: SmsVendorFake, params: dict[str, str]) -> JSONResponse:
    """``QuerySendDetails``: one phone's sends on one day (China time), paged."""
    phone, day = params.get("PhoneNumber", ""), params.get("SendDate", "")
    try:
        start = datetime.strptime(day, "%Y%m%d").replace(tzinfo=CHINA).timestamp()
        size, page = int(params.get("PageSize", "0")), int(params.get("CurrentPage", "0"))
    except ValueError:
        return JSONResponse({"Code": "isv.INVALID_PARAMETERS", "Message": "参数格式错误"})
    if not phone.isdigit() or not 1 <= size <= 50 or page < 1:
        return JSONResponse({"Code": "isv.INVALID_PARAMETERS", "Message": "参数格式错误"})
    records = fake.records_for(phone, start, start + 86400 - 0.001)
    if params.get("BizId"):
        records = [r for r in records if r.vendor_id == params["BizId"]]
    now = time.time()
    shown = records[(page - 1) * size : page * size]
    details = [
        {
            "OutId": r.correlation,
            "PhoneNum": r.phone,
            "SendStatus": (3 if r.delivered else 2) if r.reported <= now else 1,
            "ErrCode": ("DELIVERED" if r.delivered else "MK:0001") if r.reported <= now else "",
            "TemplateCode": r.template,
            "Content": "",
            "SendDate": _china_time(r.sent).strftime("%Y-%m-%d %H:%M:%S"),
            "ReceiveDate": _china_time(r.reported).strftime("%Y-%m-%d %H:%M:%S"),
        }
        for r in shown
    ]
    return JSONResponse(
        {
            "Code": "OK",
            "Message": "OK",
            "RequestId": str(uuid.uuid4()).upper(),
            "TotalCount": str(len(records)),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
        }
    )


# --- Tencent Cloud ---------------------------------------------------------------------------


def tc3_signature(secret_key: str, service: str, timestamp: int, canonical_request: str) -> str:
    """The TC3-HMAC-SHA256 signature (Tencent Cloud's published API 3.0 algorithm, hex)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _tencent_error(code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
    )


def _tencent_verify(fake: SmsVendorFake, request: Request, body: bytes) -> JSONResponse | None:
    header = request.headers.get("authorization", "")
    prefix = "TC3-HMAC-SHA256 "
    if not header.startswith(prefix):
        return _tencent_error(
            "AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确。"
        )
    parts = dict(
        item.strip().split("=", 1) for item in header.removeprefix(prefix).split(",") if "=" in item
    )
    credential = parts.get("Credential", "").split("/")
    signed = parts.get("SignedHeaders", "").split(";")
    if len(credential) != 4 or credential[3] != "tc3_request":
        fake.refused_signatures += 1
        return _tencent_error("AuthFailure.SignatureFailure", "Credential 格式错误。")
    secret_id, date, service, _ = credential
    secret = fake.credentials.get(secret_id)
    if secret is None:
        fake.refused_signatures += 1
        return _tencent_error("AuthFailure.SecretIdNotFound", "密钥不存在。")
    try:
        timestamp = int(request.headers.get("x-tc-timestamp", ""))
    except ValueError:
        timestamp = 0
    if abs(time.time() - timestamp) > MAX_SKEW_SECONDS:
        fake.refused_signatures += 1
        return _tencent_error("AuthFailure.SignatureExpire", "签名过期。")
    headers = {k.lower(): v for k, v in request.headers.items()}
    if any(h not in headers for h in signed) or date != datetime.fromtimestamp(
        timestamp, UTC
    ).strftime("%Y-%m-%d"):
        fake.refused_signatures += 1
        return _tencent_error("AuthFailure.SignatureFailure", "签名头缺失。")
    canonical = "\n".join(
        [
            request.method,
            request.url.path or "/",
            request.url.query if request.method == "GET" else "",
            "".join(f"{h}:{headers[h]}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    if not hmac.compare_digest(
        tc3_signature(secret, service, timestamp, canonical), parts.get("Signature", "")
    ):
        fake.refused_signatures += 1
        return _tencent_error(
            "AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确。"
        )
    return None


def create_tencent_sms_app(fake: SmsVendorFake) -> ASGIApp:
    """A fake Tencent Cloud SMS endpoint (``POST /`` with ``X-TC-Action: SendSms``).

    Answers per number in ``SendStatusSet`` (``Code: "Ok"``); ``InternalError.Timeout``
    when failing on demand, ``RequestLimitExceeded`` when throttling. Receipts are the
    callback arrays of ``report_status``.
    """

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()
        refused = _tencent_verify(fake, request, body)
        if refused is not None:
            return refused
        action = request.headers.get("x-tc-action")
        if action not in ("SendSms", "PullSmsSendStatusByPhoneNumber"):
            return _tencent_error("InvalidAction", "接口不存在。")
        try:
            params = json.loads(body)
        except ValueError:
            return _tencent_error("InvalidParameter", "请求体不是 JSON。")
        if action == "PullSmsSendStatusByPhoneNumber":
            return _tencent_pull(fake, params)
        decision = fake._decide(request.state.arrived)
        if decision == "throttle":
            return _tencent_error("RequestLimitExceeded", "请求的次数超过了频率限制。")
        if decision == "fail":
            return _tencent_error("InternalError.Timeout", "请求下发短信超时。")
        context = str(params.get("SessionContext") or "")
        statuses = []
        stall = False
        for number in params.get("PhoneNumberSet") or []:
            phone = str(number).removeprefix("+86")
            serial = f"2645:{uuid.uuid4().int % 10**20}"
            delivered = not (
                fake.undeliverable_prefix and phone.startswith(fake.undeliverable_prefix)
            )
            stall |= fake._accept(
                context,
                phone,
                params,
                vendor_id=serial,
                delivered=delivered,
                template=str(params.get("TemplateId") or ""),
            )
            fake._queue_receipt(
                {
                    "user_receive_time": _now_text(),
                    "nationcode": "86",
                    "mobile": phone,
                    "report_status": "SUCCESS" if delivered else "FAIL",
                    "errmsg": "DELIVRD" if delivered else "MK:0001",
                    "description": "用户短信送达成功" if delivered else "用户停机",
                    "sid": serial,
                }
            )
            statuses.append(
                {
                    "SerialNo": serial,
                    "PhoneNumber": number,
                    "Fee": 1,
                    "SessionContext": context,
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            )
        if stall:
            await asyncio.sleep(fake.stall_seconds)
        return JSONResponse(
            {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}
        )

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])], lifespan=_lifespan(fake))
    return _Arrivals(app, fake)


def _tencent_pull(fake: SmsVendorFake, params: dict[str, Any]) -> JSONResponse:
    """``PullSmsSendStatusByPhoneNumber``: one phone's *reported* sends in a time range."""
    try:
        begin, end = int(params["BeginTime"]), int(params.get("EndTime") or time.time())
        offset, limit = int(params.get("Offset", 0)), int(params["Limit"])
        phone = str(params["PhoneNumber"]).removeprefix("+86")
    except (KeyError, TypeError, ValueError):
        return _tencent_error("InvalidParameter", "参数错误。")
    if not 1 <= limit <= 100:
        return _tencent_error("InvalidParameterValue.InvalidLimit", "Limit 取值范围 1–100。")
    now = time.time()
    records = [r for r in fake.records_for(phone, begin, end + 0.999) if r.reported <= now]
    shown = records[offset : offset + limit]
    return JSONResponse(
        {
            "Response": {
                "PullSmsSendStatusSet": [
                    {
                        "UserReceiveTime": int(r.reported),
                        "CountryCode": "86",
                        "SubscriberNumber": r.phone,
                        "PhoneNumber": f"+86{r.phone}",
                        "SerialNo": r.vendor_id,
                        "ReportStatus": "SUCCESS" if r.delivered else "FAIL",
                        "Description": "用户短信送达成功" if r.delivered else "用户停机",
                        "SessionContext": r.correlation,
                    }
                    for r in shown
                ],
                "RequestId": str(uuid.uuid4()),
            }
        }
    )
