"""The season's ``[placement]`` section: how admission runs (phase windows, ordering keys,
policy-care quotas, siblings, private schools, coordination neighbours, seat warnings).

Kept apart from :mod:`ruxue_core.policy` (which embeds it as ``SeasonFile.placement``) so that
the placement rules read as one piece of policy.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

FACT_SOURCES = frozenset({"hukou", "property", "residence_permit", "social_insurance"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """One phase's window; both ends need a UTC offset."""

    opens_at: datetime
    closes_at: datetime

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.opens_at.tzinfo is None or self.closes_at.tzinfo is None:
            raise ValueError("opens_at and closes_at need a UTC offset, e.g. +08:00")
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class Phases(_Strict):
    """The season's phases in order: 报名, 审核, 派位, 公布, 报到."""

    registration: Window | None = None
    review: Window | None = None
    placement: Window | None = None
    publication: Window | None = None
    enrollment: Window | None = None

    @model_validator(mode="after")
    def _sequence(self) -> Phases:
        windows = [
            w
            for w in (
                self.registration,
                self.review,
                self.placement,
                self.publication,
                self.enrollment,
            )
            if w is not None
        ]
        for before, after in pairwise(windows):
            if after.opens_at < before.opens_at:
                raise ValueError("phases must open in order: registration → enrollment")
        return self


class OrderingKey(_Strict):
    """One ordering key inside a category (e.g. the child's hukou move-in date): a verified
    fact of one check; an earlier date places first, a missing fact places last."""

    code: str = Field(pattern=r"^[a-z0-9_]{2,32}$")
    name: str
    source: str
    subject: str = Field(pattern=r"^(child|guardian)$")
    fact: str = Field(pattern=r"^[a-z_]{2,32}$")

    @model_validator(mode="after")
    def _source(self) -> OrderingKey:
        if self.source not in FACT_SOURCES:
            raise ValueError(f"unknown source {self.source!r}; known: {sorted(FACT_SOURCES)}")
        return self


class CareQuota(_Strict):
    """A policy-care kind (政策性照顾) and its reserved seats: ``seats`` at every public school,
    replaced per school by ``schools``."""

    kind: str = Field(pattern=r"^[a-z0-9_]{2,32}$")
    name: str
    seats: int = Field(default=0, ge=0)
    schools: dict[str, int] = Field(default_factory=dict)

    def seats_at(self, school: str) -> int:
        """Seats reserved for this kind at ``school``."""
        return self.schools.get(school, self.seats)


class SiblingRules(_Strict):
    """Sibling binding: twins/multiples of one guardian in one season are placed together."""

    together: bool = True


class PrivateOption(_Strict):
    """A private school drawing by lottery at the same time as public placement (公民同招)."""

    school: str
    seats: int | None = Field(default=None, ge=0, description="default: the school's plan")


class Warnings(_Strict):
    """Seat warnings (学位预警): the share of the plan taken by verified applications."""

    yellow: float = Field(default=0.9, gt=0, le=5)
    red: float = Field(default=1.0, gt=0, le=5)

    @model_validator(mode="after")
    def _order(self) -> Warnings:
        if self.red < self.yellow:
            raise ValueError("red must not be below yellow")
        return self


class PlacementPolicy(_Strict):
    """The whole ``[placement]`` section."""

    phases: Phases = Field(default_factory=Phases)
    ordering_keys: list[OrderingKey] = Field(default_factory=list)
    quotas: list[CareQuota] = Field(default_factory=list)
    siblings: SiblingRules = Field(default_factory=SiblingRules)
    private: list[PrivateOption] = Field(default_factory=list)
    neighbours: dict[str, list[str]] = Field(
        default_factory=dict, description="township → neighbouring townships (相邻乡镇)"
    )
    warnings: Warnings = Field(default_factory=Warnings)
    notice_prefix: str = Field(
        default="LQ", pattern=r"^[A-Z0-9]{1,8}$", description="电子录取通知书编号 prefix"
    )

    def check_references(self, schools: set[str], townships: set[str]) -> None:
        """Raise ``ValueError`` naming the first school or township the section does not know."""
        for quota in self.quotas:
            unknown = set(quota.schools) - schools
            if unknown:
                raise ValueError(f"placement.quotas {quota.kind!r}: unknown schools {unknown}")
        for option in self.private:
            if option.school not in schools:
                raise ValueError(f"placement.private: unknown school {option.school!r}")
        for township, neighbours in self.neighbours.items():
            unknown = ({township} | set(neighbours)) - townships
            if unknown:
                raise ValueError(f"placement.neighbours: unknown townships {sorted(unknown)}")
        kinds = [q.kind for q in self.quotas]
        if len(set(kinds)) != len(kinds):
            raise ValueError("placement.quotas: kinds must be unique")

    @classmethod
    def of(cls, policy: dict[str, Any]) -> PlacementPolicy:
        """The section stored in a season row's policy JSON (defaults when absent)."""
        return cls.model_validate(policy.get("placement", {}))
