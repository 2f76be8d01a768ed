"""Outbox tables: jobs for the workers, SMS messages and provincial case records.

All three are written in the same transaction as the state change that causes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.enums import CaseRecordStatus, JobStatus, MessageStatus
from ruxue_core.domain.types import UTCDateTime, enum_type, utcnow


class Job(SQLModel, table=True):
    """One unit of background work, claimed by a worker under a lease."""

    __table_args__ = (sa.Index("ix_job_claim", "status", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    idempotency_key: str = Field(unique=True, max_length=128)
    status: JobStatus = Field(default=JobStatus.PENDING, sa_type=enum_type(JobStatus))
    attempts: int = 0
    conflicts: int = Field(default=0, description="optimistic-locking conflicts, retried freely")
    max_attempts: int = 6
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """One SMS to a guardian. Parameters never hold an ID number or an address."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=96, description="receipt:version:template")
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)
    template: str = Field(max_length=64, description="stable template code")
    params: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    phone_ct: bytes
    status: MessageStatus = Field(default=MessageStatus.QUEUED, sa_type=enum_type(MessageStatus))
    vendor: str | None = Field(default=None, max_length=64)
    vendor_message_id: str | None = Field(default=None, max_length=128, index=True)
    attempts: int = Field(default=0, description="vendor calls made so far")
    repeats: int = Field(
        default=0, description="sends again after a crash left the outcome unknown (same id)"
    )
    resends: int = Field(default=0, description="times staff queued it again after it failed")
    error: str | None = Field(default=None, max_length=500, description="the last failure")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sending_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SmsVendorState(SQLModel, table=True):
    """One SMS vendor's shared state, read and written by every worker under a row lock.

    ``tat`` is the rate limiter's theoretical arrival time (GCRA, seconds since the epoch
    by the database's clock); ``sends``/``errors`` are counts that decay with a half-life,
    from which the vendor's recent error rate (and so its weight) follows.
    """

    __tablename__ = "sms_vendor_state"

    name: str = Field(primary_key=True, max_length=64)
    tat: float = 0.0
    sends: float = 0.0
    errors: float = 0.0
    scored_at: float = 0.0


class SmsReceiptRow(SQLModel, table=True):
    """A delivery receipt as a vendor called it back; vendors repeat callbacks, so one row
    per (vendor, vendor message id, status). Kept until it matched its message, which may
    be committed after the receipt arrives."""

    __tablename__ = "sms_receipt"
    __table_args__ = (
        sa.UniqueConstraint("vendor", "vendor_message_id", "status", name="uq_sms_receipt"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vendor: str = Field(max_length=64)
    vendor_message_id: str = Field(max_length=128)
    message_id: int | None = Field(default=None, index=True)
    status: MessageStatus = Field(sa_type=enum_type(MessageStatus))
    vendor_code: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=200)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied: bool = False


class CaseRecord(SQLModel, table=True):
    """A provincial case record (受理, 过程, 特别程序, 办结), pushed in version order per case.

    ``version`` counts the case's records from 1 without gaps; (receipt number, version) is
    the idempotency key. ``payload`` holds the canonical record without personal numbers
    (those are resolved at push time). ``push_key`` names the latest push job, so that a
    record has at most one live push job.
    """

    __tablename__ = "case_record"

    __table_args__ = (
        sa.UniqueConstraint("receipt_no", "version", name="uq_case_record_version"),
        sa.Index("ix_case_record_status", "status", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    receipt_no: str = Field(max_length=32)
    version: int
    application_version: int = Field(default=0, description="the application's version then")
    kind: str = Field(max_length=16, description="accept | process | special | result")
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: CaseRecordStatus = Field(
        default=CaseRecordStatus.QUEUED, sa_type=enum_type(CaseRecordStatus)
    )
    attempts: int = Field(default=0, description="pushes the platform answered")
    round: int = Field(default=0, description="push jobs scheduled so far")
    push_key: str | None = Field(default=None, max_length=128)
    reporter: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500, description="the platform's")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ack_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
