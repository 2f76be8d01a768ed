"""Admission: lottery commitments, placement runs (drafts until published), their results,
admissions (电子录取通知书) and policy-care claims (政策性照顾)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.types import UTCDateTime, utcnow


class LotteryDraw(SQLModel, table=True):
    """A season's lottery: SHA-256(seed) committed before the draw, the seed revealed after.

    The seed is public once revealed (anyone re-runs the draw with it), so it is kept in clear.
    """

    __tablename__ = "lottery_draw"

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", unique=True)
    commitment: str = Field(max_length=64, description="SHA-256(seed), lowercase hex")
    seed: str | None = Field(default=None, max_length=128, description="set at reveal")
    committed_by: str = Field(max_length=128)
    committed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revealed_by: str | None = Field(default=None, max_length=128)
    revealed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlacementRun(SQLModel, table=True):
    """One run of the engine over a season: a draft until published.

    ``published_key`` is set to the season's main key when a main run is published: a unique
    column, so that two publications of a season's placement can never both commit.
    """

    __tablename__ = "placement_run"

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    kind: str = Field(max_length=16, description="main | coordination")
    status: str = Field(default="draft", max_length=16, description="draft | published")
    seed_commitment: str | None = Field(default=None, max_length=64)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_by: str | None = Field(default=None, max_length=128)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_key: str | None = Field(default=None, max_length=48, unique=True)


class PlacementResult(SQLModel, table=True):
    """One applicant's result in one run, with its explanation in Chinese."""

    __tablename__ = "placement_result"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "application_id", name="uq_placement_result_app"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="placement_run.id", index=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    receipt_no: str = Field(max_length=32)
    school_code: str | None = Field(default=None, max_length=32)
    tier: str | None = Field(default=None, max_length=16)
    reserved: bool = False
    reason: str | None = Field(default=None, max_length=32)
    category: int = 0
    lottery_number: str | None = Field(default=None, max_length=64)
    explanation: str = Field(sa_type=sa.Text)


class Admission(SQLModel, table=True):
    """An admitted child's place and admission notice (电子录取通知书); the seat counts as
    taken until a no-show (未报到) returns it to coordination."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", unique=True)
    school_id: int = Field(foreign_key="school.id", index=True)
    run_id: int | None = Field(default=None, foreign_key="placement_run.id")
    notice_no: str = Field(unique=True, max_length=48, description="电子录取通知书编号")
    tier: str | None = Field(default=None, max_length=16)
    admitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    enrolled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    no_show_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CareClaim(SQLModel, table=True):
    """A policy-care kind (政策性照顾) declared for an application (``declared``), then
    ``confirmed`` or ``rejected`` by the bureau; placement honours confirmed ones only."""

    __tablename__ = "care_claim"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", unique=True)
    kind: str = Field(max_length=32)
    status: str = Field(
        default="confirmed",
        max_length=16,
        sa_column_kwargs={"server_default": "confirmed"},
        description="declared | confirmed | rejected",
    )
    recorded_by: str = Field(max_length=128)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
