"""Driving the provincial case push in tests: run the worker and the sweep until settled."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from ruxue_core import casepush
from ruxue_core.domain import CaseRecord
from ruxue_core.domain.enums import CaseRecordStatus
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork


def unsettled(uow: UnitOfWork) -> int:
    """Records still on their way: sent or held, or queued with nothing blocking them."""
    earlier = aliased(CaseRecord)
    blocked = sa.exists().where(
        col(earlier.receipt_no) == CaseRecord.receipt_no,
        col(earlier.version) < CaseRecord.version,
        col(earlier.status) == CaseRecordStatus.REJECTED,
    )
    moving = sa.or_(
        col(CaseRecord.status).in_((CaseRecordStatus.SENT, CaseRecordStatus.HELD)),
        sa.and_(col(CaseRecord.status) == CaseRecordStatus.QUEUED, ~blocked),
    )
    return int(uow.session.exec(select(sa.func.count()).where(moving)).one())


async def settle(runtime: Runtime, *, rounds: int = 500, pause: float = 0.02) -> None:
    """Run the worker and the sweep until every record is acknowledged, rejected or waiting
    behind a rejected one."""
    worker = Worker(runtime, HANDLERS)
    for _ in range(rounds):
        await worker.drain()
        await casepush.sweep(runtime)
        await worker.drain()
        if await runtime.read(unsettled) == 0:
            return
        await asyncio.sleep(pause)
    raise AssertionError("case records did not settle")
