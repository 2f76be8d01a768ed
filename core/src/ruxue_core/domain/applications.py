"""An application (报名 = one 办件) and what is gathered about it: evidence, reviews, materials."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.enums import (
    Channel,
    Outcome,
    Relationship,
    ReviewDecision,
    Status,
)
from ruxue_core.domain.types import UTCDateTime, enum_type, utcnow


class Application(SQLModel, table=True):
    """One child's application in one season. Only ``lifecycle`` changes ``status``.

    ``version`` counts the application's changes: every update is ``… WHERE version = :seen``
    and bumps it, so a writer that read a stale application gets ``Conflict``.
    """

    __table_args__ = (sa.UniqueConstraint("season_id", "child_id", name="uq_application_child"),)

    id: int | None = Field(default=None, primary_key=True)
    receipt_no: str = Field(unique=True, max_length=32, description="办件编号")
    query_code_ct: bytes = Field(description="查询密码, encrypted (pushed to the province)")
    query_code_hash: str = Field(max_length=64, description="keyed hash for constant-time checks")
    season_id: int = Field(foreign_key="season.id", index=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    guardian_id: int = Field(foreign_key="guardian.id", index=True)
    relationship: Relationship = Field(sa_type=enum_type(Relationship))
    channel: Channel = Field(sa_type=enum_type(Channel))
    township_code: str | None = Field(default=None, max_length=12, index=True)
    address_ct: bytes = Field(description="declared residence address, encrypted")
    age_exception: str | None = Field(
        default=None, max_length=16, description="deferral | early_entry: manual review decides"
    )
    school_id: int | None = Field(default=None, foreign_key="school.id", index=True)
    private_school_id: int | None = Field(
        default=None,
        foreign_key="school.id",
        description="the private school chosen (公民同招), one of the season's options",
    )
    primary_school_code: str | None = Field(
        default=None,
        max_length=32,
        description="小升初: the primary school the child graduates from (junior seasons)",
    )
    status: Status = Field(default=Status.DRAFT, sa_type=enum_type(Status), index=True)
    version: int = 1
    case_seq: int = Field(default=0, description="provincial case records written so far")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Evidence(SQLModel, table=True):
    """The stored result of one department check: outcome, minimal facts and a reference."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    round: int = Field(default=1, description="verification round (a correction starts another)")
    source: str = Field(max_length=32, description="hukou, property, … or a city's own")
    subject: str = Field(max_length=16, description="guardian | child")
    plugin: str = Field(max_length=64)
    outcome: Outcome = Field(sa_type=enum_type(Outcome))
    facts_ct: bytes = Field(description="the minimal facts, encrypted JSON")
    reason: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, max_length=64)
    source_record_id: str | None = Field(default=None, max_length=64)
    consent_ref: str | None = Field(
        default=None, max_length=32, description="the consent (授权核对) the check relied on"
    )
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Consent(SQLModel, table=True):
    """The family's authorisation to check its data (授权核对), captured at submission.

    The guardian gives it for themself and, as guardian, for the child; at a counter the staff
    record the signed form. ``ref`` is sent with every check and kept in its evidence.
    """

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", unique=True)
    ref: str = Field(unique=True, max_length=32)
    subjects: str = Field(max_length=32, description="whose data: child,guardian")
    statement: str = Field(max_length=32, description="version of the consent text shown")
    channel: Channel = Field(sa_type=enum_type(Channel))
    recorded_by: str = Field(max_length=128, description="the principal who recorded it")
    given_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Assessment(SQLModel, table=True):
    """What the season's rules concluded from one verification round's facts."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    round: int = 1
    decision: str = Field(max_length=24, description="verified | needs_correction | manual_review")
    reason_code: str = Field(max_length=32)
    reason: str = Field(max_length=200)
    category: str | None = Field(default=None, max_length=16)
    category_name: str | None = Field(default=None, max_length=50)
    address_proven_by: str | None = Field(default=None, max_length=32)
    schools: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    materials: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    corrections: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    assessed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Review(SQLModel, table=True):
    """A reviewer's decision at one review step."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    step: Status = Field(sa_type=enum_type(Status), description="the status that was reviewed")
    decision: ReviewDecision = Field(sa_type=enum_type(ReviewDecision))
    comment: str = Field(default="", max_length=500)
    reviewer: str = Field(max_length=128)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Material(SQLModel, table=True):
    """A material provided (a file uploaded, or an original seen at the counter), required
    only where no shared-data check proved the fact. Rows are history: a second upload of the
    same kind adds a row and keeps the earlier one (and its file) for the reviewers."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    kind: str = Field(max_length=32)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=200)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    uploaded_by: str | None = Field(
        default=None, max_length=128, description="the principal who provided it"
    )


class QueryGuard(SQLModel, table=True):
    """Wrong query codes counted per receipt number, known or not (both answer alike)."""

    __tablename__ = "query_guard"

    receipt_no: str = Field(primary_key=True, max_length=32)
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SubmissionKey(SQLModel, table=True):
    """A client's idempotency key for one submission: a retry with the same key gets the
    first answer back (receipt number and query code) instead of ``Duplicate``.

    ``key_idx`` is a keyed hash of who submitted and the key; ``fingerprint`` a keyed hash of
    the submitted form, so that the same key with another form is refused.
    """

    __tablename__ = "submission_key"

    key_idx: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)
    application_id: int = Field(foreign_key="application.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
