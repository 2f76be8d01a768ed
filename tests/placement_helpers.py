"""A tight season and approved applications with assessments, for the admission tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

from sqlmodel import select

from ruxue_core.domain import (
    Admission,
    Application,
    Assessment,
    PlacementResult,
    PlacementRun,
    School,
)
from ruxue_core.domain.types import utcnow
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.phases import Phase, rehearsal
from ruxue_core.placement.lottery import commitment
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.lottery_draws import commit_lottery, reveal_lottery
from ruxue_core.services.placement import ResultView, placement_run, run_placement
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    SCHOOL_REVIEWER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

SEED: Final = "a3f1c0de" * 8
PLANS: Final = {"LK-YJ-01": 3, "LK-YY-01": 1}
"""Seats in the tight season: 燕矶镇 3, its neighbour 杨叶镇 1, every other school none."""


def tight(season_file: SeasonFile) -> SeasonFile:
    """The sample season with :data:`PLANS` as the only seats."""
    schools = [
        s.model_copy(update={"classes": 1, "class_size": PLANS.get(s.code, 1), "reserved": 0})
        if s.code in PLANS
        else s.model_copy(update={"classes": 0, "reserved": 0})
        for s in season_file.schools
    ]
    return season_file.model_copy(update={"schools": schools})


async def open_tight_season(runtime: Runtime, season_file: SeasonFile) -> str:
    """Load :func:`tight` with registration open now; returns the season code."""
    window = (utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
    await load_season(runtime, tight(season_file), Principal.system(), window=window)
    return season_file.season.code


async def turn(runtime: Runtime, data: SeasonFile, *phases: Phase) -> None:
    """Load ``data`` again with its calendar turned so that ``phases`` are open now (the
    earlier ones over), as a district changes its calendar: the tests run a season in
    seconds, and every operation stays gated by its phase."""
    await load_season(runtime, rehearsal(data, utcnow(), *phases), Principal.system())


async def approved(
    runtime: Runtime,
    season: str,
    family: int,
    *,
    category: str = "A",
    children: int = 1,
    township: str = "420704101",
    address: str = "燕矶镇新街10号",
    zoned: str = "LK-YJ-01",
) -> list[int]:
    """``children`` approved applications of family ``family`` at ``address`` (by default in
    燕矶镇, zoned LK-YJ-01), submitted at the township's counter, with a verified assessment
    of ``category``."""
    guardian = make_national_id("420704", date(1985, 1, 1), 100 + family)
    counter = Principal(f"counter-{township}", COUNTER.role, "窗口", region_code=township)
    reviewer = Principal(f"reviewer-{zoned}", SCHOOL_REVIEWER.role, "老师", school_code=zoned)
    ids = []
    for _ in range(children):
        command = submit_command(
            season,
            child_id=child_id_number(),
            guardian_id=guardian,
            guardian_name="李四",
            township_code=township,
            address=address,
        )
        ids.append((await submit_application(runtime, command, counter)).application_id)

    def advance(uow: UnitOfWork) -> None:
        school = uow.session.exec(select(School).where(School.code == zoned)).one()
        for application_id in ids:
            uow.session.add(
                Assessment(
                    application_id=application_id,
                    decision="verified",
                    reason_code="verified",
                    reason="核验合格",
                    category=category,
                    schools=[zoned],
                )
            )
            steps: tuple[tuple[Event, Principal, dict[str, object]], ...] = (
                (Event.START_VERIFICATION, Principal.system(), {}),
                (Event.PASS_VERIFICATION, Principal.system(), {"school_id": school.id}),
                (Event.APPROVE, reviewer, {}),
                (Event.APPROVE, BUREAU, {}),
            )
            for event, actor, changes in steps:
                case = load_case(uow, application_id)
                assert case is not None
                apply_event(uow, case, event, actor, changes=changes or None)
        uow.commit()

    await runtime.write(advance)
    return ids


def placed_in_published_run(uow: UnitOfWork, application_id: int) -> None:
    """Record what a publication leaves for an admitted application (not committed): a
    published run with its result and the admission at the application's school."""
    application = uow.session.get(Application, application_id)
    assert application is not None and application.school_id is not None
    school = uow.session.get(School, application.school_id)
    assert school is not None
    run = PlacementRun(
        season_id=application.season_id, kind="coordination", status="published", created_by="t"
    )
    uow.session.add(run)
    uow.session.flush()
    assert run.id is not None
    uow.session.add(
        PlacementResult(
            run_id=run.id,
            application_id=application_id,
            receipt_no=application.receipt_no,
            school_code=school.code,
            tier="zoned",
            explanation=f"办件 {application.receipt_no} 的派位结果：录取到 {school.code}。",
        )
    )
    uow.session.add(
        Admission(
            application_id=application_id,
            school_id=school.id or 0,
            run_id=run.id,
            notice_no=f"T-{application.receipt_no}",
        )
    )


PRIVATE: Final = "LK-MB-01"
"""The sample season's private school (公民同招), offered as its private option."""


def with_private(season_file: SeasonFile) -> SeasonFile:
    """:func:`tight`, with one seat at the private school."""
    schools = [
        s.model_copy(update={"classes": 1, "class_size": 1}) if s.code == PRIVATE else s
        for s in tight(season_file).schools
    ]
    return season_file.model_copy(update={"schools": schools})


async def stored_run(runtime: Runtime, season: str) -> dict[int, ResultView]:
    """Commit and reveal the lottery with :data:`SEED`, store a placement run as the bureau
    (the season's 派位 phase must be open) and return its results by application id."""
    await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    await reveal_lottery(runtime, season, SEED, BUREAU)
    run = await run_placement(runtime, season, BUREAU)
    assert run.id is not None
    return {r.application_id: r for r in (await placement_run(runtime, run.id, BUREAU)).results}
