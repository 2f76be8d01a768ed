"""Fake data-sharing services of three departments: 公安 (hukou, residence permits), 自然资源
(real-estate registration) and 人社 (social insurance).

Each answers like a department's query API would, so that the real verifier plugins' HTTP
code runs against it: requests are signed (``ruxue_core.sign_request``; a stale timestamp, a
reused nonce, a bad signature are refused with HTTP 401), must name the consent they rely on
(HTTP 403 without), and are logged with their purpose, acting user and case. Faults can be
injected per service: latency, an error rate, timeouts, malformed answers, a full outage.

Endpoints (``POST``, JSON ``{id_number, name, guardian_id_number?, window_start?}``):
``/api/v1/hukou/query``, ``/api/v1/residence-permit/query`` (公安),
``/api/v1/property/query`` (自然资源), ``/api/v1/social-insurance/query`` (人社); answered
with ``{request_id, result, record_id, facts, message}``, ``result`` one of ``found``,
``not_found``, ``name_mismatch``, ``ambiguous``. ``GET /healthz``; ``PUT /admin/faults``
(signed like a query).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ruxue_core import RequestContext, SignatureError, SignatureVerifier

SANDBOX_APP_KEY: Final = "ruxue-sandbox"
SANDBOX_SECRET: Final = "sandbox-secret"

PATHS: Final[Mapping[str, str]] = {
    "hukou": "/api/v1/hukou/query",
    "residence_permit": "/api/v1/residence-permit/query",
    "property": "/api/v1/property/query",
    "social_insurance": "/api/v1/social-insurance/query",
}
DEPARTMENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "gongan": ("hukou", "residence_permit"),
    "ziranziyuan": ("property",),
    "renshe": ("social_insurance",),
}
"""Each department service and the sources it holds."""


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    """One person's record at one source, with the department's own fact names.

    :ivar relations: hukou: guardian ID number → that guardian's recorded relationship to
        this person (``father``, ``mother``, ``grandparent``, …).
    :ivar paid_since: social insurance: contributions paid every month since this date.
    :ivar ambiguous: the department cannot decide from its data (a 集体户, a disputed
        registration): queries answer ``ambiguous``.
    :ivar unavailable: queries about this person answer HTTP 503 (a partial outage).
    :ivar stalls: queries about this person hang for the service's ``hang_seconds``.
    """

    source: str
    id_number: str
    name: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    relations: Mapping[str, str] = field(default_factory=dict)
    paid_since: date | None = None
    ambiguous: bool = False
    unavailable: bool = False
    stalls: bool = False
    record_id: str = field(default_factory=lambda: f"R-{uuid.uuid4().hex[:12].upper()}")


@dataclass(slots=True)
class Faults:
    """Fault injection for one service; probabilities are per request.

    :ivar latency: seconds every answer waits.
    :ivar error_rate: share answered HTTP 503.
    :ivar timeout_rate: share that hang for ``hang_seconds`` (the caller times out).
    :ivar malformed_rate: share answered with a body that is not the protocol's JSON.
    :ivar outage: every request answers HTTP 503.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    outage: bool = False
    hang_seconds: float = 30.0

    def update(self, values: Mapping[str, Any]) -> None:
        """Change the named settings; ``ValueError`` for an unknown or bad one."""
        for key, value in values.items():
            current = getattr(self, key, None)
            if key.startswith("_") or current is None:
                raise ValueError(f"unknown fault setting {key!r}")
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            elif key.endswith("_rate") and value > 1:
                raise ValueError(f"{key} must be at most 1")
            setattr(self, key, value)


@dataclass(frozen=True, slots=True)
class QueryLogEntry:
    """One query as the department logs it: who asked what, why, under which consent."""

    source: str
    context: RequestContext
    app_key: str


class DepartmentService:
    """The records and fault settings of one department's service. Thread-safe.

    :param name: ``gongan``, ``ziranziyuan`` or ``renshe`` (picks the sources it serves).
    :param secrets: app key → secret of the callers it knows.
    :param seed: seed of the fault draws, for reproducible runs.
    :param as_of: the date months of insurance are counted up to (default: today).
    """

    def __init__(
        self,
        name: str,
        *,
        secrets: Mapping[str, str] | None = None,
        seed: int | None = None,
        as_of: date | None = None,
        max_skew: float = 300.0,
    ) -> None:
        self.name = name
        self.sources = DEPARTMENTS[name]
        self.signatures = SignatureVerifier(
            secrets or {SANDBOX_APP_KEY: SANDBOX_SECRET}, max_skew=max_skew
        )
        self.faults = Faults()
        self.as_of = as_of
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], DepartmentRecord] = {}
        self._log: list[QueryLogEntry] = []

    def add(self, records: Iterable[DepartmentRecord]) -> int:
        """Add or replace the records of this service's sources; return how many."""
        count = 0
        with self._lock:
            for record in records:
                if record.source in self.sources:
                    self._records[(record.source, record.id_number)] = record
                    count += 1
        return count

    def get(self, source: str, id_number: str) -> DepartmentRecord | None:
        """The record of ``source`` for ``id_number``, if any."""
        with self._lock:
            return self._records.get((source, id_number))

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def draw(self) -> str | None:
        """The fault this request suffers, drawn from the settings (``None``: none)."""
        faults = self.faults
        if faults.outage:
            return "outage"
        with self._lock:
            roll = self._random.random()
        for kind, rate in (
            ("error", faults.error_rate),
            ("timeout", faults.timeout_rate),
            ("malformed", faults.malformed_rate),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def log(self, entry: QueryLogEntry) -> None:
        """Remember one query (the department's access log)."""
        with self._lock:
            self._log.append(entry)

    @property
    def queries(self) -> list[QueryLogEntry]:
        """Every query received so far, oldest first."""
        with self._lock:
            return list(self._log)

    def today(self) -> date:
        """The date insurance months are counted up to."""
        return self.as_of or date.today()


def _months(since: date, until: date) -> int:
    return max(0, (until.year - since.year) * 12 + until.month - since.month)


def answer_for(
    service: DepartmentService, source: str, query: Mapping[str, Any], request_id: str
) -> dict[str, Any]:
    """The answer to a well-formed query (no faults applied)."""
    record = service.get(source, str(query["id_number"]))
    base: dict[str, Any] = {"request_id": request_id, "record_id": None, "facts": {}}
    if record is None:
        return base | {"result": "not_found", "message": "未查到记录"}
    if record.name != query["name"]:
        # Say nothing about someone else's record: no record id, no facts.
        return base | {"result": "name_mismatch", "message": "姓名与身份证号不一致"}
    if record.ambiguous:
        return base | {
            "result": "ambiguous",
            "record_id": record.record_id,
            "message": "登记信息存疑（如集体户），需线下核验",
        }
    facts = dict(record.facts)
    guardian = query.get("guardian_id_number")
    if source == "hukou" and isinstance(guardian, str):
        facts["relationship"] = record.relations.get(guardian)
    if source == "social_insurance" and record.paid_since is not None:
        start = record.paid_since
        window = query.get("window_start")
        if isinstance(window, str):
            start = max(start, date.fromisoformat(window))
        facts["months_paid"] = _months(start, service.today())
    return base | {"result": "found", "record_id": record.record_id, "facts": facts}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _query(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("body must be an object")
    for key in ("id_number", "name"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"missing {key}")
    window = data.get("window_start")
    if window is not None:
        date.fromisoformat(str(window))
    return data


def create_department_app(service: DepartmentService) -> Starlette:
    """A Starlette app serving ``service`` as the department's data-sharing service."""

    async def authorised(request: Request, body: bytes) -> str | Response:
        try:
            return service.signatures.verify(
                request.method, request.url.path, dict(request.headers), body
            )
        except SignatureError as exc:
            return _error(401, exc.code, str(exc))

    async def query(request: Request, source: str) -> Response:
        body = await request.body()
        key = await authorised(request, body)
        if isinstance(key, Response):
            return key
        context = RequestContext.from_headers(dict(request.headers))
        if not context.consent_ref or not context.purpose or not context.request_id:
            return _error(403, "consent_required", "请求须注明用途、请求编号和授权核对编号")
        try:
            parsed = _query(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, "bad_request", str(exc))
        service.log(QueryLogEntry(source, context, key))
        fault = service.draw()
        if service.faults.latency:
            await asyncio.sleep(service.faults.latency)
        record = service.get(source, parsed["id_number"])
        if fault in ("outage", "error") or (record is not None and record.unavailable):
            return _error(503, "unavailable", "数据共享服务暂时不可用")
        if fault == "timeout" or (record is not None and record.stalls):
            await asyncio.sleep(service.faults.hang_seconds)
        if fault == "malformed":
            return Response(b'{"result": "fou', media_type="application/json")
        return JSONResponse(answer_for(service, source, parsed, context.request_id))

    def route(source: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return await query(request, source)

        return Route(PATHS[source], endpoint, methods=["POST"])

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "department": service.name, "records": len(service)})

    async def admin_faults(request: Request) -> Response:
        body = await request.body()
        key = await authorised(request, body)
        if isinstance(key, Response):
            return key
        try:
            values = json.loads(body)
            if not isinstance(values, dict):
                raise ValueError("body must be an object")
            service.faults.update(values)
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        faults = service.faults
        return JSONResponse(
            {k: getattr(faults, k) for k in ("latency", "error_rate", "timeout_rate")}
            | {"malformed_rate": faults.malformed_rate, "outage": faults.outage}
        )

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/admin/faults", admin_faults, methods=["PUT"]),
            *(route(source) for source in service.sources),
        ]
    )
