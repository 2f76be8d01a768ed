"""Delivery receipts: what vendors call back, stored once and matched to their messages.

Vendors repeat callbacks and sign none of them (the gateway's route is guarded by a secret
path token). Each receipt is kept once per (vendor, vendor message id, status); a repeat
changes nothing. A receipt is matched by the message id the vendor echoes (the correlation
field) or by the vendor's own message id; one that arrives before the send was committed
waits in its row and is applied when the acceptance commits, or, should the two
transactions have crossed (PostgreSQL runs them side by side, each unseen by the other), by
the periodic sweep (``notify.receipts``, every :data:`SWEEP_EVERY` seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from ruxue_core.domain import Message, SmsReceiptRow
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.plugins.contracts import SmsReceipt
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core import jobs

OPEN = (MessageStatus.SENDING, MessageStatus.ACCEPTED)
SWEEP_KIND: Final = "notify.receipts"
SWEEP_EVERY: Final = 10.0
SWEEP_WITHIN: Final = timedelta(days=3)
"""Receipts still unmatched this long after they came are left alone."""
SWEEP_BATCH: Final = 2000


@dataclass(frozen=True, slots=True)
class ReceiptTally:
    """What one callback did: new receipts kept, repeats ignored, receipts matched now."""

    new: int = 0
    repeated: int = 0
    matched: int = 0


def _message_id(receipt: SmsReceipt) -> int | None:
    value = (receipt.message_id or "").strip()
    return int(value) if value.isdigit() else None


def _apply(uow: UnitOfWork, vendor: str, row: SmsReceiptRow) -> bool:
    """Apply one stored receipt to its message; ``False`` when no message matches yet."""
    if row.message_id is not None:
        where = sa.and_(col(Message.id) == row.message_id, col(Message.vendor) == vendor)
    else:
        where = sa.and_(
            col(Message.vendor) == vendor, col(Message.vendor_message_id) == row.vendor_message_id
        )
    found = uow.session.exec(select(Message.id).where(where)).first()
    if found is None:
        return False
    values: dict[str, object]
    if row.status is MessageStatus.DELIVERED:
        values = {"status": MessageStatus.DELIVERED, "delivered_at": row.received_at}
    elif row.status is MessageStatus.PERMANENT_FAILURE:
        code = f"[{row.vendor_code}] " if row.vendor_code else ""
        values = {
            "status": MessageStatus.FAILED,
            "error": f"{vendor} 回执：{code}{row.detail or ''}",
        }
    else:
        return True  # accepted / still trying: nothing changes
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == found, col(Message.status).in_(OPEN))
        .values(**values)
    )
    return True


def record(uow: UnitOfWork, vendor: str, parsed: Sequence[SmsReceipt]) -> ReceiptTally:
    """Keep each receipt once and apply the new ones; commits. Idempotent."""
    insert = postgresql.insert if uow.postgres else sqlite.insert
    new = repeated = matched = 0
    for receipt in parsed:
        if not receipt.vendor_message_id:
            continue
        row = SmsReceiptRow(
            vendor=vendor,
            vendor_message_id=receipt.vendor_message_id[:128],
            message_id=_message_id(receipt),
            status=receipt.status,
            vendor_code=(receipt.vendor_code or None) and receipt.vendor_code[:64],
            detail=(receipt.detail or None) and receipt.detail[:200],
            received_at=uow.now,
        )
        inserted = uow.session.execute(
            insert(SmsReceiptRow)
            .values(**row.model_dump(exclude={"id"}))
            .on_conflict_do_nothing(index_elements=["vendor", "vendor_message_id", "status"])
            .returning(col(SmsReceiptRow.id))
        ).scalar_one_or_none()
        if inserted is None:
            repeated += 1
            continue
        new += 1
        if _apply(uow, vendor, row):
            matched += 1
            uow.session.execute(
                sa.update(SmsReceiptRow)
                .where(col(SmsReceiptRow.id) == inserted)
                .values(applied=True)
            )
    uow.commit()
    return ReceiptTally(new, repeated, matched)


def apply_pending(uow: UnitOfWork, vendor: str, vendor_message_id: str) -> None:
    """Apply receipts that arrived before the vendor's acceptance was committed."""
    rows = uow.session.exec(
        select(SmsReceiptRow).where(
            col(SmsReceiptRow.vendor) == vendor,
            col(SmsReceiptRow.vendor_message_id) == vendor_message_id,
            col(SmsReceiptRow.applied).is_(False),
        )
    ).all()
    for row in rows:
        if _apply(uow, vendor, row):
            uow.session.execute(
                sa.update(SmsReceiptRow).where(col(SmsReceiptRow.id) == row.id).values(applied=True)
            )


def sweep(uow: UnitOfWork) -> int:
    """Apply receipts kept unmatched whose message has since been committed; return how many."""
    rows = uow.session.exec(
        select(SmsReceiptRow)
        .where(
            col(SmsReceiptRow.applied).is_(False),
            col(SmsReceiptRow.received_at) > uow.now - SWEEP_WITHIN,
        )
        .order_by(col(SmsReceiptRow.id))
        .limit(SWEEP_BATCH)
    ).all()
    applied = [row.id for row in rows if _apply(uow, row.vendor, row)]
    if applied:
        uow.session.execute(
            sa.update(SmsReceiptRow).where(col(SmsReceiptRow.id).in_(applied)).values(applied=True)
        )
    return len(applied)


async def sweep_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Periodic job ``notify.receipts`` (see :func:`sweep`); runs with its completion."""

    def apply(uow: UnitOfWork) -> None:
        sweep(uow)

    return apply
