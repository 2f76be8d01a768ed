"""Intake records beside an application: a guardian's draft (filled over several visits) and
the outcome of a manual verification (线下核验) of originals."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.types import UTCDateTime, utcnow


class ApplicationDraft(SQLModel, table=True):
    """A guardian's unfinished application (草稿): partial, validated field by field, stored
    encrypted, seen only by its owner. It is not an application: it has no receipt number and
    enters no work list, statistic or verification until it is submitted, which creates the
    application and links it here (``application_id``).

    ``owner_idx`` is a keyed hash of the owner's verified real-name ID number.
    """

    __tablename__ = "application_draft"

    id: int | None = Field(default=None, primary_key=True)
    owner_idx: str = Field(max_length=64, index=True)
    season_code: str = Field(max_length=32)
    data_ct: bytes = Field(description="the fields filled so far, encrypted JSON")
    version: int = 1
    application_id: int | None = Field(
        default=None, foreign_key="application.id", description="set once submitted"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ManualVerification(SQLModel, table=True):
    """A reviewer's record of manual verification (人工核验): which facts were confirmed from
    which original paper, and the outcome. Fact names and material codes only, no values."""

    __tablename__ = "manual_verification"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    outcome: str = Field(max_length=16, description="confirmed | return | reject")
    confirmations: list[dict[str, str]] = Field(
        default_factory=list, sa_type=sa.JSON, description="[{fact, paper}]"
    )
    comment: str = Field(default="", max_length=500)
    reviewer: str = Field(max_length=128)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
