"""The anonymous result lookup by receipt number and query code (办件编号 + 查询密码).

One indexed read answers it: a single statement outside any transaction (``Runtime.fetch``).
It writes only to count a wrong code: an atomic increment keyed by the receipt number, whether
or not that receipt exists, so an unknown receipt and a wrong code on a real one answer the
same, lock out the same and cost the same. Each client address is also rate limited.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from ruxue_core.db import execute
from ruxue_core.domain import Application, Child, QueryGuard, School
from ruxue_core.domain.enums import STATUS_LABELS, Status
from ruxue_core.domain.types import UTCDateTime, utcnow
from ruxue_core.errors import InvalidInput, NotFound, RateLimited
from ruxue_core.rules import codes
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_name
from ruxue_core.uow import UnitOfWork

WRONG: Final = "办件编号或查询密码不正确"
PLACED: Final = frozenset({Status.ADMITTED, Status.ENROLLED})
"""Statuses in which the public lookup names the school: the child's place, not a zone."""
_ABSENT_HASH: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class StatusView:
    """What the public lookup shows: no personal numbers, the child's name masked."""

    receipt_no: str
    status: Status
    status_label: str
    child_name: str
    school_name: str | None  # the school of the child's place, once admitted
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class _Found:
    view: StatusView | None
    code_hash: str
    failures: int
    locked_until: datetime | None


async def lookup_status(
    rt: Runtime, receipt_no: str, query_code: str, *, client: str | None = None
) -> StatusView:
    """The application's status for anyone holding its receipt number and query code.

    :raises InvalidInput: malformed receipt number or query code (no lookup is made).
    :raises RateLimited: this client, or this receipt number, made too many attempts.
    :raises NotFound: unknown receipt number or wrong code (the same answer for both).
    """
    receipt_no = receipt_no.strip().upper()
    if not codes.is_valid_receipt_no(receipt_no):
        raise InvalidInput("办件编号格式不正确", field="receiptNo")
    if not codes.QUERY_CODE_PATTERN.fullmatch(query_code):
        raise InvalidInput("查询密码应为6位数字", field="queryCode")
    limits = rt.settings.limits
    if not rt.lookups.allow(client or "unknown", limits.lookups_per_minute_per_client):
        raise RateLimited()
    found = await rt.fetch(lambda conn: _read(conn, receipt_no))
    if found.locked_until is not None and found.locked_until > utcnow():
        raise RateLimited()
    expected = rt.cipher.blind_index(query_code, purpose="query_code")
    if found.view is None or not hmac.compare_digest(expected, found.code_hash):
        await rt.write(lambda uow: _count_failure(uow, receipt_no))
        raise NotFound(WRONG)
    if found.failures:
        await rt.write(lambda uow: _forget_failures(uow, receipt_no))
    return found.view


@functools.cache
def _lookup() -> sa.Select[Status, datetime, str, str, str, int, datetime | None]:
    """The application and the receipt's failure count for ``:receipt_no``: one statement."""
    asked = select(sa.bindparam("receipt_no", type_=sa.String).label("receipt_no")).subquery()
    return (
        sa.select(
            col(Application.status),
            col(Application.updated_at),
            col(Application.query_code_hash),
            col(Child.name),
            col(School.name),
            col(QueryGuard.failures),
            col(QueryGuard.locked_until),
        )
        .select_from(asked)
        .outerjoin(Application, col(Application.receipt_no) == asked.c.receipt_no)
        .outerjoin(Child, col(Child.id) == Application.child_id)
        .outerjoin(School, col(School.id) == Application.school_id)
        .outerjoin(QueryGuard, col(QueryGuard.receipt_no) == asked.c.receipt_no)
    )


def _read(conn: sa.Connection, receipt_no: str) -> _Found:
    row = conn.execute(_lookup(), {"receipt_no": receipt_no}).one()
    status, updated_at, code_hash, child_name, school_name, failures, locked_until = row
    view = None
    if status is not None:
        status = Status(status)
        view = StatusView(
            receipt_no=receipt_no,
            status=status,
            status_label=STATUS_LABELS[status],
            child_name=mask_name(child_name),
            school_name=school_name if status in PLACED else None,
            updated_at=updated_at,
        )
    return _Found(view, code_hash or _ABSENT_HASH, failures or 0, locked_until)


@functools.cache
def _count(postgres: bool, limit: int) -> Any:
    """Count one more wrong code for ``:receipt_no`` (an upsert); reaching ``limit`` locks the
    receipt until ``:until`` and starts the count over."""
    failures = col(QueryGuard.failures)
    until = sa.bindparam("until", type_=UTCDateTime())
    first_locks = limit <= 1
    statement = (
        (postgresql if postgres else sqlite)
        .insert(QueryGuard)
        .values(
            receipt_no=sa.bindparam("receipt_no"),
            failures=0 if first_locks else 1,
            locked_until=until if first_locks else None,
        )
    )
    locked = failures + 1 >= limit
    return statement.on_conflict_do_update(
        index_elements=["receipt_no"],
        set_={
            "failures": sa.case((locked, 0), else_=failures + 1),
            "locked_until": sa.case((locked, until), else_=None),
        },
    )


def _count_failure(uow: UnitOfWork, receipt_no: str) -> None:
    """One more wrong code for ``receipt_no`` (known or not)."""
    limits = uow.settings.limits
    until = uow.now + timedelta(minutes=limits.query_lock_minutes)
    statement = _count(uow.postgres, limits.query_code_max_failures)
    execute(uow.session, statement, {"receipt_no": receipt_no, "until": until})
    uow.commit()


_FORGET: Final = sa.delete(QueryGuard).where(col(QueryGuard.receipt_no) == sa.bindparam("r"))


def _forget_failures(uow: UnitOfWork, receipt_no: str) -> None:
    execute(uow.session, _FORGET, {"r": receipt_no})
    uow.commit()
