"""Private-school choice (公民同招): the season's private options, and a guardian's choice of
one while registration is open. Placement puts the chosen school first on the applicant's
derived list; losing its lottery falls back to public placement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.db import execute
from ruxue_core.domain import Application, School, Season
from ruxue_core.domain.enums import Role, Status
from ruxue_core.errors import Conflict, Ineligible, InvalidTransition, NotFound
from ruxue_core.lifecycle import load_case
from ruxue_core.permissions import require_role, visible
from ruxue_core.phases import Phase, require_phase
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_code
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork

OPEN_STATUSES: Final = frozenset(
    {
        Status.SUBMITTED,
        Status.VERIFYING,
        Status.NEEDS_CORRECTION,
        Status.MANUAL_REVIEW,
        Status.SCHOOL_REVIEW,
        Status.BUREAU_REVIEW,
        Status.APPROVED,
    }
)
"""Statuses in which the choice may still change (before placement, not withdrawn)."""


@dataclass(frozen=True, slots=True)
class PrivateOption:
    """A private school the season offers (公民同招), with the seats drawn by lottery."""

    code: str
    name: str
    seats: int


@dataclass(frozen=True, slots=True)
class ChoosePrivateSchool:
    """Command: choose one of the season's private options (``None`` clears the choice)."""

    application_id: int
    school_code: str | None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class PrivateChoice:
    """An application's choice after the change."""

    application_id: int
    school_code: str | None
    version: int


def options_of(uow: UnitOfWork, season: Season) -> tuple[PrivateOption, ...]:
    """The season's private options in file order; seats default to the school's plan."""
    policy = PlacementPolicy.of(season.policy)
    codes = [o.school for o in policy.private]
    schools = {
        s.code: s for s in uow.session.exec(select(School).where(col(School.code).in_(codes))).all()
    }
    return tuple(
        PrivateOption(o.school, schools[o.school].name, _seats(o.seats, schools[o.school]))
        for o in policy.private
        if o.school in schools
    )


def _seats(seats: int | None, school: School) -> int:
    return school.plan if seats is None else min(seats, school.plan)


async def private_options(rt: Runtime, season_code: str) -> tuple[PrivateOption, ...]:
    """The private options of a season (anyone may read them).

    :raises InvalidInput: a malformed code.
    :raises NotFound: no such season.
    """
    validate_code(season_code, field="seasonCode", message="招生季代码格式不正确")

    def read(uow: UnitOfWork) -> tuple[PrivateOption, ...]:
        season = uow.session.exec(select(Season).where(col(Season.code) == season_code)).first()
        if season is None:
            raise NotFound("招生季不存在", field="seasonCode")
        return options_of(uow, season)

    return await rt.read(read)


async def choose_private_school(
    rt: Runtime, command: ChoosePrivateSchool, principal: Principal | None
) -> PrivateChoice:
    """Record the guardian's private-school choice (or clear it) on their application.

    :raises Forbidden: not the guardian (or counter staff in scope).
    :raises NotFound: no such application visible to the caller, or no such school.
    :raises Ineligible: the school is not one of the season's private options.
    :raises OutOfPhase: registration is not open.
    :raises InvalidTransition: the application is past placement (or withdrawn).
    :raises Conflict: ``expected_version`` is stale.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    if command.school_code is not None:
        validate_code(command.school_code, field="schoolCode", message="学校代码格式不正确")

    def choose(uow: UnitOfWork) -> PrivateChoice:
        case = visible(
            actor, load_case(uow, command.application_id), uow.cipher, field="applicationId"
        )
        application, season = case.application, case.season
        school_id = None
        if command.school_code is not None:
            school = uow.session.exec(
                select(School).where(col(School.code) == command.school_code)
            ).first()
            if school is None:
                raise NotFound("学校不存在", field="schoolCode")
            if school.code not in {o.code for o in options_of(uow, season)}:
                raise Ineligible("该校不是本招生季公民同招的民办学校", field="schoolCode")
            school_id = school.id
        require_phase(season, Phase.REGISTRATION, uow.now, field="schoolCode")
        if application.status not in OPEN_STATUSES:
            raise InvalidTransition("当前状态不能再选择民办学校", field="applicationId")
        if command.expected_version is not None and application.version != command.expected_version:
            raise Conflict()
        statement = (
            sa.update(Application)
            .where(col(Application.id) == application.id)
            .where(col(Application.version) == application.version)
            .values(
                private_school_id=school_id,
                version=application.version + 1,
                updated_at=uow.now,
            )
        )
        if execute(uow.session, statement) != 1:
            raise Conflict()
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "application.private_choice",
                "application",
                str(case.id),
                {"school": command.school_code},
                at=uow.now,
            )
        )
        uow.commit()
        return PrivateChoice(case.id, command.school_code, application.version + 1)

    return await rt.write(choose)
