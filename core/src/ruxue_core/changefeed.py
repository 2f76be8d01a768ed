"""Status changes as a feed: one poller per process tells subscribers what was committed.

Every status change is committed with its audit entry (:mod:`ruxue_core.lifecycle`), by any
gateway process or worker, so the database is the one place that knows all of them. The
feed polls the audit log with one cheap query on its primary key ("entries after the last one
seen"), shared by every subscriber of the process, and only while someone subscribes.

PostgreSQL hands out ids before commit, so an entry with a lower id can become visible after
one with a higher id. The feed remembers the ids it skipped ("gaps") and asks for them again
until they appear or ``subscriptions.gap_seconds`` pass (a rolled-back transaction never fills
its gap). On SQLite writers are serialised and ids are visible in order, so no gap stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import AuditEvent
from ruxue_core.domain.enums import Status
from ruxue_core.errors import RateLimited

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime

log = logging.getLogger(__name__)

BATCH: Final = 500
"""Entries read per poll; a full batch is followed by another poll at once."""
MAX_GAPS: Final = 1_000
"""Skipped ids remembered at most (a sequence that jumps far is not tracked id by id)."""
LOOKBACK: Final = 100
"""At start, ids this far below the newest are checked for gaps (transactions in flight)."""
QUEUE_SIZE: Final = 64


@dataclass(frozen=True, slots=True)
class AuditRow:
    """What the feed reads of one audit entry."""

    id: int
    entity: str
    entity_id: str
    action: str
    at: datetime
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One committed status change of one application (no personal data)."""

    receipt_no: str
    status: Status
    previous_status: Status | None
    version: int
    at: datetime


_COLUMNS: Final = (
    col(AuditEvent.id),
    col(AuditEvent.entity),
    col(AuditEvent.entity_id),
    col(AuditEvent.action),
    col(AuditEvent.at),
    col(AuditEvent.data),
)


async def audit_rows_after(
    runtime: Runtime, last: int, gaps: list[int], limit: int
) -> list[AuditRow]:
    """Entries after ``last`` (at most ``limit``, by id) and those of the ``gaps`` ids that
    have appeared since: one statement on the primary key."""
    after = sa.select(*_COLUMNS).where(col(AuditEvent.id) > last).order_by(col(AuditEvent.id))
    statement: Any
    if gaps:
        filled = sa.select(*_COLUMNS).where(col(AuditEvent.id).in_(gaps))
        union = sa.union_all(filled, after.limit(limit).subquery().select()).subquery()
        statement = sa.select(*union.c).order_by(union.c.id)
    else:
        statement = after.limit(limit)

    def read(connection: sa.Connection) -> list[AuditRow]:
        return [
            AuditRow(id=r[0], entity=r[1], entity_id=r[2], action=r[3], at=r[4], data=r[5])
            for r in connection.execute(statement)
        ]

    return await runtime.fetch(read)


async def recent_audit_ids(runtime: Runtime, lookback: int) -> tuple[int, set[int]]:
    """The newest audit id (0 for an empty log) and which of the ``lookback`` ids below it
    exist: one statement."""
    newest = sa.select(sa.func.coalesce(sa.func.max(col(AuditEvent.id)), 0)).scalar_subquery()
    statement = sa.select(col(AuditEvent.id), newest).where(col(AuditEvent.id) > newest - lookback)

    def read(connection: sa.Connection) -> tuple[int, set[int]]:
        rows = connection.execute(statement).all()
        if not rows:
            return 0, set()
        return int(rows[0][1]), {int(row[0]) for row in rows}

    return await runtime.fetch(read)


def status_change(row: AuditRow) -> StatusChange | None:
    """The status change an audit entry records, if it records one."""
    if row.entity != "application" or not row.action.startswith("application."):
        return None
    data = row.data
    target, source, version = data.get("to"), data.get("from"), data.get("version")
    if not isinstance(target, str) or not isinstance(version, int):
        return None
    try:
        return StatusChange(
            receipt_no=row.entity_id,
            status=Status(target),
            previous_status=Status(source) if isinstance(source, str) else None,
            version=version,
            at=row.at,
        )
    except ValueError:
        return None


class _Closed:
    """Put in a subscriber's queue when the feed closes."""


CLOSED: Final = _Closed()


@dataclass(eq=False)
class Subscription:
    """One subscriber's changes of one application; iterate it, close it when done."""

    feed: ChangeFeed
    receipt_no: str
    caller: str
    queue: asyncio.Queue[StatusChange | _Closed] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )

    async def changes(self) -> AsyncIterator[StatusChange]:
        """The changes committed after the subscription began, until the feed closes."""
        while True:
            item = await self.queue.get()
            if isinstance(item, _Closed):
                return
            yield item

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        self.feed._remove(self)

    def offer(self, item: StatusChange | _Closed) -> None:
        """Queue ``item``; a subscriber too slow to keep ``QUEUE_SIZE`` changes is closed."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("a subscriber fell behind; closing its subscription")
            self.feed._remove(self)
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(CLOSED)


class ChangeFeed:
    """The process's poller of status changes and its subscribers, keyed by receipt number."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.subscriptions
        self._by_receipt: dict[str, set[Subscription]] = {}
        self._per_caller: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        self._last = 0
        self._gaps: dict[int, float] = {}
        self._closed = False

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open in this process."""
        return sum(len(s) for s in self._by_receipt.values())

    @property
    def polling(self) -> bool:
        """Whether the poller runs (it runs only while someone subscribes)."""
        return self._task is not None and not self._task.done()

    async def subscribe(self, receipt_no: str, caller: str) -> Subscription:
        """Follow one application's status changes from now on.

        The poller has read the log's end when this returns, so a change committed after it
        returns is delivered.

        :raises RateLimited: ``caller`` already holds ``subscriptions.per_caller``.
        """
        if self._per_caller.get(caller, 0) >= self.settings.per_caller:
            raise RateLimited("同时订阅的办件过多，请先关闭不用的订阅", field="id")
        subscription = Subscription(self, receipt_no, caller)
        self._per_caller[caller] = self._per_caller.get(caller, 0) + 1
        self._by_receipt.setdefault(receipt_no, set()).add(subscription)
        try:
            await self._ensure_polling()
        except BaseException:
            subscription.close()
            raise
        if self._closed:
            subscription.offer(CLOSED)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._by_receipt.get(subscription.receipt_no)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._by_receipt[subscription.receipt_no]
        left = self._per_caller.get(subscription.caller, 1) - 1
        if left > 0:
            self._per_caller[subscription.caller] = left
        else:
            self._per_caller.pop(subscription.caller, None)

    async def _ensure_polling(self) -> None:
        if self._closed or self.polling:
            return
        if self._starting is not None and not self._starting.done():
            await asyncio.shield(self._starting)
            return
        self._starting = asyncio.get_running_loop().create_future()
        try:
            await self._start()
            self._task = asyncio.create_task(self._run(), name="ruxue-change-feed")
            self._starting.set_result(None)
        except BaseException as exc:
            self._starting.set_exception(exc)
            self._starting.exception()  # retrieved: only waiters re-raise it
            raise

    async def _start(self) -> None:
        """Read the log's end; ids just below it that are missing may still commit."""
        newest, present = await recent_audit_ids(self.runtime, LOOKBACK)
        deadline = time.monotonic() + self.settings.gap_seconds
        self._last = newest
        self._gaps = {
            i: deadline for i in range(max(1, newest - LOOKBACK + 1), newest) if i not in present
        }

    async def _run(self) -> None:
        failures = 0
        while not self._closed and self._by_receipt:
            try:
                full = await self.poll()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("status change poll failed (%s); retrying", type(exc).__name__)
                full = False
            if full:
                continue
            delay = self.settings.poll_seconds * min(2**failures, 30)
            await asyncio.sleep(delay)

    async def poll(self) -> bool:
        """Read new entries and the gaps' entries once and hand the changes out.

        :return: whether a full batch came back (more may be waiting).
        """
        rows = await audit_rows_after(self.runtime, self._last, list(self._gaps), BATCH)
        now = time.monotonic()
        deadline = now + self.settings.gap_seconds
        new = 0
        for row in rows:
            if row.id in self._gaps:
                del self._gaps[row.id]
            elif row.id > self._last:
                new += 1
                for missing in range(max(self._last + 1, row.id - MAX_GAPS), row.id):
                    self._gaps[missing] = deadline
                self._last = row.id
            else:
                continue
            change = status_change(row)
            if change is not None:
                self._deliver(change)
        self._gaps = {i: d for i, d in self._gaps.items() if d > now}
        if len(self._gaps) > MAX_GAPS:
            self._gaps = dict(sorted(self._gaps.items())[-MAX_GAPS:])
        return new >= BATCH

    def _deliver(self, change: StatusChange) -> None:
        for subscription in list(self._by_receipt.get(change.receipt_no, ())):
            subscription.offer(change)

    async def close(self) -> None:
        """End every subscription (their iterators finish) and stop the poller."""
        self._closed = True
        for subscription in self._all():
            subscription.offer(CLOSED)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    def _all(self) -> Iterable[Subscription]:
        return [s for subscribers in self._by_receipt.values() for s in subscribers]
