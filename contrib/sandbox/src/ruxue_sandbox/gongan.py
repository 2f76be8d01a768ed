"""A fake 公安 (public security) data-sharing service: hukou and residence-permit checks.

It answers like a department's verification API would, so that the real verifier plugin's HTTP
code runs against it in the demo and in tests. Records are loaded in process with
``GonganDataset.add`` or over HTTP with ``POST /admin/records``. Faults can be injected per
record (``unavailable`` → HTTP 503) or globally (``fail_rate``, ``latency``).

Endpoints (all but ``/healthz`` need the ``X-Api-Key`` header):

- ``POST /api/v1/hukou/verify`` and ``POST /api/v1/residence-permit/verify`` with JSON
  ``{request_id, id_number, name, claimed_address, purpose, guardian_id_number?}``, answered
  with ``{request_id, result, record_id, facts, reason, message}`` where ``result`` is one of
  ``match``, ``mismatch``, ``not_found``, ``undecidable``;
- ``GET /healthz``;
- ``POST /admin/records`` (a JSON list of records), ``DELETE /admin/records``,
  ``PUT /admin/faults`` (``{fail_rate?, latency?}``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_API_KEY: Final = "sandbox-key"

Kind = Literal["hukou", "residence_permit"]
Result = Literal["match", "mismatch", "not_found", "undecidable"]


def normalise_address(address: str) -> str:
    """An address with all whitespace removed (ASCII and full-width), for comparison."""
    return "".join(address.split())


def _new_record_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


@dataclass(frozen=True, slots=True)
class HukouRecord:
    """One person's household registration (户籍) as the department holds it.

    :ivar guardians: guardian ID number → relationship to this person (``father``, ``mother``,
        ``other``), as recorded in the household register.
    :ivar ambiguous: the department cannot decide from data alone (e.g. a 集体户, collective
        household), so checks answer ``undecidable``.
    :ivar unavailable: checks for this person answer HTTP 503 (a simulated outage).
    """

    id_number: str
    name: str
    address: str
    township_code: str
    move_in_date: date
    guardians: Mapping[str, str] = field(default_factory=dict)
    ambiguous: bool = False
    unavailable: bool = False
    record_id: str = field(default_factory=lambda: _new_record_id("HK"))

    def as_json(self) -> dict[str, Any]:
        """The record in the shape ``POST /admin/records`` accepts."""
        return {
            "kind": "hukou",
            "id_number": self.id_number,
            "name": self.name,
            "address": self.address,
            "township_code": self.township_code,
            "move_in_date": self.move_in_date.isoformat(),
            "guardians": dict(self.guardians),
            "ambiguous": self.ambiguous,
            "unavailable": self.unavailable,
            "record_id": self.record_id,
        }


@dataclass(frozen=True, slots=True)
class ResidencePermitRecord:
    """One residence permit (居住证): where it was issued for and when it is valid."""

    id_number: str
    name: str
    address: str
    township_code: str
    issue_date: date
    expiry_date: date
    ambiguous: bool = False
    unavailable: bool = False
    record_id: str = field(default_factory=lambda: _new_record_id("JZZ"))

    def as_json(self) -> dict[str, Any]:
        """The record in the shape ``POST /admin/records`` accepts."""
        return {
            "kind": "residence_permit",
            "id_number": self.id_number,
            "name": self.name,
            "address": self.address,
            "township_code": self.township_code,
            "issue_date": self.issue_date.isoformat(),
            "expiry_date": self.expiry_date.isoformat(),
            "ambiguous": self.ambiguous,
            "unavailable": self.unavailable,
            "record_id": self.record_id,
        }


Record = HukouRecord | ResidencePermitRecord


class RecordError(ValueError):
    """A record or request body is malformed; the message says which field (in Chinese)."""


def _required(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"字段 {key} 缺失或不是非空字符串")
    return value


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _required(data, key)


def _date(data: Mapping[str, Any], key: str) -> date:
    try:
        return date.fromisoformat(_required(data, key))
    except ValueError:
        raise RecordError(f"字段 {key} 不是 ISO 日期（YYYY-MM-DD）") from None


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise RecordError(f"字段 {key} 应为 true 或 false")
    return value


def record_from_json(data: object) -> Record:
    """Parse one record as sent to ``POST /admin/records``; raise ``RecordError`` if malformed."""
    if not isinstance(data, Mapping):
        raise RecordError("每条记录应为 JSON 对象")
    kind = data.get("kind", "hukou")
    record_id = _optional(data, "record_id")
    common: dict[str, Any] = {
        "id_number": _required(data, "id_number"),
        "name": _required(data, "name"),
        "address": _required(data, "address"),
        "township_code": _required(data, "township_code"),
        "ambiguous": _flag(data, "ambiguous"),
        "unavailable": _flag(data, "unavailable"),
    }
    if record_id is not None:
        common["record_id"] = record_id
    if kind == "hukou":
        guardians = data.get("guardians", {})
        if not isinstance(guardians, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in guardians.items()
        ):
            raise RecordError("字段 guardians 应为 {监护人身份证号: 关系} 的对象")
        return HukouRecord(
            move_in_date=_date(data, "move_in_date"), guardians=dict(guardians), **common
        )
    if kind == "residence_permit":
        return ResidencePermitRecord(
            issue_date=_date(data, "issue_date"), expiry_date=_date(data, "expiry_date"), **common
        )
    raise RecordError(f"未知的记录类型 {kind!r}（应为 hukou 或 residence_permit）")


@dataclass(frozen=True, slots=True)
class QueryLogEntry:
    """One verification query as the department logs it (who asked what, and why)."""

    endpoint: Kind
    request_id: str
    purpose: str


class GonganDataset:
    """The records the fake service holds, and its fault-injection settings.

    Safe to change from another thread while the service runs (tests load records while the
    server thread answers).

    :param api_key: the key callers must send in ``X-Api-Key``.
    :param fail_rate: probability (0–1) that any verification call answers HTTP 503.
    :param latency: seconds to wait before answering each verification call.
    :param as_of: the date residence permits are checked against (default: today).
    :param seed: seed for the ``fail_rate`` draw, for reproducible runs.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        fail_rate: float = 0.0,
        latency: float = 0.0,
        as_of: date | None = None,
        seed: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.as_of = as_of
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._records: dict[tuple[Kind, str], Record] = {}
        self._log: list[QueryLogEntry] = []
        self.fail_rate = 0.0
        self.latency = 0.0
        self.configure_faults(fail_rate=fail_rate, latency=latency)

    # -- records ----------------------------------------------------------------------------

    def add(self, *records: Record) -> None:
        """Add or replace records (one per kind and ID number)."""
        with self._lock:
            for record in records:
                self._records[(_kind_of(record), record.id_number)] = record

    def load(self, items: Iterable[object]) -> int:
        """Parse and add JSON records; all or nothing. Return how many were loaded."""
        records = [record_from_json(item) for item in items]
        self.add(*records)
        return len(records)

    def clear(self) -> int:
        """Remove every record; return how many there were."""
        with self._lock:
            count = len(self._records)
            self._records.clear()
            return count

    def get(self, kind: Kind, id_number: str) -> Record | None:
        """The record of ``kind`` for ``id_number``, if any."""
        with self._lock:
            return self._records.get((kind, id_number))

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    # -- faults -----------------------------------------------------------------------------

    def configure_faults(
        self, *, fail_rate: float | None = None, latency: float | None = None
    ) -> None:
        """Change the global fault settings; ``None`` keeps a setting as it is."""
        if fail_rate is not None:
            if not 0.0 <= fail_rate <= 1.0:
                raise RecordError("fail_rate 应在 0 到 1 之间")
            self.fail_rate = fail_rate
        if latency is not None:
            if latency < 0:
                raise RecordError("latency 不能为负数")
            self.latency = latency

    def roll_failure(self) -> bool:
        """Whether this call should fail, drawn with probability ``fail_rate``."""
        with self._lock:
            return self.fail_rate > 0 and self._random.random() < self.fail_rate

    def today(self) -> date:
        """The date validity is checked against."""
        return self.as_of or date.today()

    # -- query log --------------------------------------------------------------------------

    def record_query(self, entry: QueryLogEntry) -> None:
        """Remember one verification query (the department's access log)."""
        with self._lock:
            self._log.append(entry)

    @property
    def queries(self) -> list[QueryLogEntry]:
        """Every verification query received so far, oldest first."""
        with self._lock:
            return list(self._log)


def _kind_of(record: Record) -> Kind:
    return "hukou" if isinstance(record, HukouRecord) else "residence_permit"


# -- verification logic -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyQuery:
    """A parsed verification request body."""

    request_id: str
    id_number: str
    name: str
    claimed_address: str
    purpose: str
    guardian_id_number: str | None

    @classmethod
    def from_json(cls, data: object) -> VerifyQuery:
        """Parse a request body; raise ``RecordError`` if a field is missing or malformed."""
        if not isinstance(data, Mapping):
            raise RecordError("请求体应为 JSON 对象")
        return cls(
            request_id=_required(data, "request_id"),
            id_number=_required(data, "id_number"),
            name=_required(data, "name"),
            claimed_address=_required(data, "claimed_address"),
            purpose=_required(data, "purpose"),
            guardian_id_number=_optional(data, "guardian_id_number"),
        )


def _answer(
    query: VerifyQuery,
    result: Result,
    record: Record | None = None,
    facts: Mapping[str, Any] | None = None,
    reason: str | None = None,
    message: str = "",
) -> dict[str, Any]:
    return {
        "request_id": query.request_id,
        "result": result,
        "record_id": record.record_id if record is not None else None,
        "facts": dict(facts or {}),
        "reason": reason,
        "message": message,
    }


def check_hukou(query: VerifyQuery, record: HukouRecord) -> dict[str, Any]:
    """The answer for a hukou check against a found record."""
    facts = {
        "hukou_address": record.address,
        "township_code": record.township_code,
        "move_in_date": record.move_in_date.isoformat(),
        "relationship": record.guardians.get(query.guardian_id_number or ""),
    }
    if record.ambiguous:
        return _answer(
            query, "undecidable", record, facts, "ambiguous", "集体户或登记信息存疑，需线下核验"
        )
    if normalise_address(query.claimed_address) != normalise_address(record.address):
        return _answer(
            query, "mismatch", record, facts, "address_differs", "申报地址与户籍地址不一致"
        )
    return _answer(query, "match", record, facts, message="户籍地址一致")


def check_residence_permit(
    query: VerifyQuery, record: ResidencePermitRecord, today: date
) -> dict[str, Any]:
    """The answer for a residence-permit check against a found record."""
    facts = {
        "permit_address": record.address,
        "township_code": record.township_code,
        "issue_date": record.issue_date.isoformat(),
        "expiry_date": record.expiry_date.isoformat(),
    }
    if record.ambiguous:
        return _answer(
            query, "undecidable", record, facts, "ambiguous", "居住证信息存疑，需线下核验"
        )
    if not record.issue_date <= today <= record.expiry_date:
        return _answer(query, "mismatch", record, facts, "expired", "居住证不在有效期内")
    if normalise_address(query.claimed_address) != normalise_address(record.address):
        return _answer(
            query, "mismatch", record, facts, "address_differs", "申报地址与居住证地址不一致"
        )
    return _answer(query, "match", record, facts, message="居住证有效且地址一致")


# -- HTTP ---------------------------------------------------------------------------------------


def _error(status: int, code: str, message: str, request_id: str | None = None) -> JSONResponse:
    body = {"error": code, "message": message, "request_id": request_id}
    return JSONResponse(body, status_code=status)


def _authorised(request: Request, dataset: GonganDataset) -> bool:
    given = request.headers.get("x-api-key", "")
    return hmac.compare_digest(given.encode(), dataset.api_key.encode())


async def _json_body(request: Request) -> object:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RecordError("请求体不是合法的 JSON") from None


def create_gongan_app(dataset: GonganDataset) -> Starlette:
    """A Starlette app serving ``dataset`` as the fake 公安 data-sharing service."""

    async def verify(request: Request, kind: Kind) -> Response:
        if not _authorised(request, dataset):
            return _error(401, "unauthorized", "API 密钥无效")
        try:
            query = VerifyQuery.from_json(await _json_body(request))
        except RecordError as exc:
            return _error(400, "bad_request", str(exc))
        dataset.record_query(QueryLogEntry(kind, query.request_id, query.purpose))
        if dataset.latency:
            await asyncio.sleep(dataset.latency)
        if dataset.roll_failure():
            return _error(503, "unavailable", "数据共享服务繁忙，请稍后再试", query.request_id)
        record = dataset.get(kind, query.id_number)
        if record is None:
            return JSONResponse(_answer(query, "not_found", message="未查到记录"))
        if record.unavailable:
            return _error(503, "unavailable", "数据源暂时不可用", query.request_id)
        if record.name != query.name:
            # Say nothing about someone else's record: no record id, no facts.
            return JSONResponse(
                _answer(query, "mismatch", reason="name_differs", message="姓名与身份证号不一致")
            )
        if isinstance(record, HukouRecord):
            return JSONResponse(check_hukou(query, record))
        return JSONResponse(check_residence_permit(query, record, dataset.today()))

    async def verify_hukou(request: Request) -> Response:
        return await verify(request, "hukou")

    async def verify_residence_permit(request: Request) -> Response:
        return await verify(request, "residence_permit")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "records": len(dataset)})

    async def admin_records(request: Request) -> Response:
        if not _authorised(request, dataset):
            return _error(401, "unauthorized", "API 密钥无效")
        if request.method == "DELETE":
            return JSONResponse({"deleted": dataset.clear()})
        try:
            items = await _json_body(request)
            if not isinstance(items, list):
                raise RecordError("请求体应为记录的 JSON 数组")
            return JSONResponse({"loaded": dataset.load(items)})
        except RecordError as exc:
            return _error(400, "bad_request", str(exc))

    async def admin_faults(request: Request) -> Response:
        if not _authorised(request, dataset):
            return _error(401, "unauthorized", "API 密钥无效")
        try:
            body = await _json_body(request)
            if not isinstance(body, Mapping):
                raise RecordError("请求体应为 JSON 对象")
            settings = {key: body.get(key) for key in ("fail_rate", "latency")}
            for key, value in settings.items():
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    raise RecordError(f"字段 {key} 应为数字")
            dataset.configure_faults(fail_rate=settings["fail_rate"], latency=settings["latency"])
        except RecordError as exc:
            return _error(400, "bad_request", str(exc))
        return JSONResponse({"fail_rate": dataset.fail_rate, "latency": dataset.latency})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/v1/hukou/verify", verify_hukou, methods=["POST"]),
            Route("/api/v1/residence-permit/verify", verify_residence_permit, methods=["POST"]),
            Route("/admin/records", admin_records, methods=["POST", "DELETE"]),
            Route("/admin/faults", admin_faults, methods=["PUT"]),
        ]
    )
