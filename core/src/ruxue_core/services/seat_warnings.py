"""Seat warnings (学位预警): per school, verified applications against the plan, while
registration is open, so the bureau sees oversubscription before placement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Application
from ruxue_core.domain.enums import Role, Status
from ruxue_core.errors import InvalidTransition
from ruxue_core.permissions import require_role
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.lottery_draws import season_by_code
from ruxue_core.services.placement_inputs import load_schools
from ruxue_core.uow import UnitOfWork

VERIFIED: Final = (Status.SCHOOL_REVIEW, Status.BUREAU_REVIEW, Status.APPROVED)
"""Statuses of an application whose checks passed and whose zoned school is known."""
LEVELS: Final = {"green": "正常", "yellow": "黄色预警", "red": "红色预警"}


@dataclass(frozen=True, slots=True)
class SeatWarning:
    """One school's load: verified applications zoned to it over its plan."""

    school_code: str
    school_name: str
    plan: int
    verified: int
    ratio: float
    level: str

    @property
    def label(self) -> str:
        """The level in Chinese."""
        return LEVELS[self.level]


def level_of(verified: int, plan: int, policy: PlacementPolicy) -> tuple[float, str]:
    """The ratio and its level; a school without a plan is red as soon as anyone applies."""
    ratio = verified / plan if plan else (float("inf") if verified else 0.0)
    if ratio >= policy.warnings.red:
        return ratio, "red"
    if ratio >= policy.warnings.yellow:
        return ratio, "yellow"
    return ratio, "green"


async def seat_warnings(
    rt: Runtime, season_code: str, principal: Principal | None
) -> list[SeatWarning]:
    """Every school's warning level (bureau, admin, auditor), while registration is open.

    :raises InvalidTransition: registration has closed (placement has the real numbers).
    """
    require_role(principal, Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR, Role.SYSTEM)

    def read(uow: UnitOfWork) -> list[SeatWarning]:
        season = season_by_code(uow, season_code)
        if not season.opens_at <= uow.now <= season.closes_at:
            raise InvalidTransition("学位预警仅在报名期间提供", field="seasonCode")
        policy = PlacementPolicy.of(season.policy)
        rows = (
            uow.session.execute(
                sa.select(col(Application.school_id), sa.func.count())
                .where(
                    col(Application.season_id) == season.id,
                    col(Application.status).in_(VERIFIED),
                )
                .group_by(col(Application.school_id))
            )
        ).all()
        counts: dict[int | None, int] = dict(rows)
        warnings = []
        for school, _ in load_schools(uow, season):
            verified = counts.get(school.id, 0)
            ratio, level = level_of(verified, school.plan, policy)
            warnings.append(
                SeatWarning(school.code, school.name, school.plan, verified, ratio, level)
            )
        return warnings

    return await rt.read(read)
