"""The district's catalogue: seasons, the region tree, schools and catchment zones."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.enums import Stage
from ruxue_core.domain.types import SharedJSON, UTCDateTime, enum_type


class Season(SQLModel, table=True):
    """One enrollment season for one stage (e.g. 2026 小学), with its windows and policy."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32, description="e.g. 2026-primary")
    name: str = Field(max_length=100)
    year: int
    stage: Stage = Field(sa_type=enum_type(Stage))
    age_cutoff: date = Field(description="children born on or before this date are eligible")
    earliest_birth: date = Field(description="…and on or after this one")
    deferral_earliest: date | None = Field(
        default=None, description="older children (缓学) from here on go to manual review"
    )
    early_entry_latest: date | None = Field(
        default=None, description="younger children (提前入学) up to here go to manual review"
    )
    opens_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    policy: dict[str, Any] = Field(
        default_factory=dict, sa_type=SharedJSON, description="read-only: assign a new dict"
    )


class Region(SQLModel, table=True):
    """A node of the region tree: district → 乡镇/街道 (township) → 村/社区 (village)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=12)
    name: str = Field(max_length=100)
    level: str = Field(max_length=16, description="district | township | village")
    parent_id: int | None = Field(default=None, foreign_key="region.id", index=True)


class School(SQLModel, table=True):
    """A school with its plan: classes × class size − reserved places."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=100)
    stage: Stage = Field(sa_type=enum_type(Stage))
    public: bool = True
    township_id: int | None = Field(default=None, foreign_key="region.id", index=True)
    classes: int = 0
    class_size: int = 45
    reserved: int = 0

    @property
    def plan(self) -> int:
        """Places offered to applicants."""
        return max(self.classes * self.class_size - self.reserved, 0)


class Zone(SQLModel, table=True):
    """A season's catchment zone (学区): address rules mapping onto one or more schools."""

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    name: str = Field(max_length=100)
    rules: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)


class ZoneSchool(SQLModel, table=True):
    """Link of a zone to one of its schools (单校划片 has one, 多校划片 several)."""

    __tablename__ = "zone_school"

    zone_id: int = Field(foreign_key="zone.id", primary_key=True)
    school_id: int = Field(foreign_key="school.id", primary_key=True)
