"""Load a season's placement input from the database: schools with the seats already taken,
and each candidate application's category, zoned schools, verified facts, care claim and
private-school choice (公民同招)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.domain import (
    Admission,
    Application,
    Assessment,
    CareClaim,
    Evidence,
    Region,
    School,
    Season,
)
from ruxue_core.domain.enums import Outcome, Status
from ruxue_core.placement.derive import ApplicationRow, SchoolRow
from ruxue_core.policy import ZoneRule
from ruxue_core.rules.assessment import find_zone
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Inputs:
    """What one run reads: schools, candidates, application ids by receipt number, and the
    names explanations use (categories by order, schools by code)."""

    schools: list[SchoolRow]
    applications: list[ApplicationRow]
    ids: dict[str, int]
    category_names: dict[int, str]
    school_names: dict[str, str]


def taken_seats(uow: UnitOfWork) -> dict[int, int]:
    """Seats filled per school id: admissions, less no-shows (their seats return)."""
    rows = uow.session.execute(
        sa.select(col(Admission.school_id), sa.func.count())
        .where(col(Admission.no_show_at).is_(None))
        .group_by(col(Admission.school_id))
    ).all()
    return dict(rows)


def load_schools(uow: UnitOfWork, season: Season) -> list[tuple[School, SchoolRow]]:
    """The season's stage's schools with their township codes and taken seats, by code."""
    taken = taken_seats(uow)
    rows = uow.session.execute(
        sa.select(School, col(Region.code))
        .outerjoin(Region, col(Region.id) == School.township_id)
        .where(col(School.stage) == season.stage)
        .order_by(col(School.code))
    ).all()
    return [
        (
            school,
            SchoolRow(
                school.code, township, school.public, school.plan, taken.get(school.id or 0, 0)
            ),
        )
        for school, township in rows
    ]


def load_inputs(uow: UnitOfWork, season: Season, status: Status) -> Inputs:
    """Every application of the season in ``status`` (approved for the main run,
    coordinating for a coordination run), derived from its latest assessment and facts."""
    schools = load_schools(uow, season)
    code_of = {school.id: school.code for school, _ in schools}
    applications = uow.session.exec(
        select(Application)
        .where(Application.season_id == season.id, Application.status == status)
        .order_by(col(Application.receipt_no))
    ).all()
    ids = [a.id for a in applications if a.id is not None]
    assessments = _latest(
        uow.session.exec(select(Assessment).where(col(Assessment.application_id).in_(ids))).all()
    )
    facts = _facts(uow, ids)
    care = {
        c.application_id: c.kind
        for c in uow.session.exec(
            select(CareClaim).where(
                col(CareClaim.application_id).in_(ids), col(CareClaim.status) == "confirmed"
            )
        )
    }
    zones = [ZoneRule.model_validate(z) for z in season.policy.get("zones", [])]
    rows = []
    for application in applications:
        assert application.id is not None
        assessment = assessments.get(application.id)
        zoned = tuple(assessment.schools) if assessment and assessment.schools else ()
        if not zoned and application.school_id in code_of:
            zoned = (code_of[application.school_id],)
        rows.append(
            ApplicationRow(
                receipt_no=application.receipt_no,
                township=application.township_code,
                category=assessment.category if assessment else None,
                zoned=zoned,
                family=application.guardian_id,
                facts=facts.get(application.id, {}),
                care=care.get(application.id),
                private=code_of.get(application.private_school_id),
                primary_school=application.primary_school_code,
                community=_community(uow, zones, application),
            )
        )
    categories = season.policy.get("categories", [])
    names = {i: str(c.get("name", "")) for i, c in enumerate(categories, start=1)}
    return Inputs(
        [row for _, row in schools],
        rows,
        {a.receipt_no: a.id for a in applications if a.id is not None},
        names,
        {school.code: school.name for school, _ in schools},
    )


def _community(uow: UnitOfWork, zones: list[ZoneRule], application: Application) -> tuple[str, ...]:
    """The schools of the village/community (同村/社区) the address matches: every zone rule
    of that township and village, estates included, in file order."""
    if not any(z.village for z in zones):
        return ()
    address = uow.cipher.decrypt(application.address_ct, purpose="application.address")
    zone = find_zone(zones, application.township_code, address)
    if zone is None or zone.village is None:
        return ()
    codes = (
        code
        for z in zones
        if (z.township, z.village) == (zone.township, zone.village)
        for code in z.schools
    )
    return tuple(dict.fromkeys(codes))


def _latest(assessments: Iterable[Assessment]) -> dict[int, Assessment]:
    latest: dict[int, Assessment] = {}
    for a in assessments:
        seen = latest.get(a.application_id)
        if seen is None or (a.round, a.id or 0) > (seen.round, seen.id or 0):
            latest[a.application_id] = a
    return latest


def _facts(uow: UnitOfWork, ids: list[int]) -> dict[int, dict[tuple[str, str], dict[str, object]]]:
    """The matched facts of each application's latest round, by (source, subject)."""
    rows = uow.session.exec(
        select(Evidence)
        .where(col(Evidence.application_id).in_(ids), Evidence.outcome == Outcome.MATCH)
        .order_by(col(Evidence.round), col(Evidence.id))
    ).all()
    facts: dict[int, dict[tuple[str, str], dict[str, object]]] = {}
    for e in rows:  # later rounds overwrite earlier ones
        decoded = uow.cipher.decrypt_json(e.facts_ct, purpose="evidence.facts")
        facts.setdefault(e.application_id, {})[(e.source, e.subject)] = dict(decoded)
    return facts
