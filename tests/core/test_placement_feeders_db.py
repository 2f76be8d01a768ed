"""小升初 from the database: a junior season's application names the primary school the child
graduates from, and a placement run over the sample middle season puts each graduate at the
middle school its primary school feeds (对口直升) before the zoned school; a child moving in
from elsewhere is placed by address."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import pytest
from placement_helpers import stored_run, turn
from sqlmodel import select

from ruxue_core.domain import Assessment, School
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import InvalidInput
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.phases import Phase
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile, read_season_file
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    SCHOOL_REVIEWER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

MIDDLE: Final = (
    Path(__file__).resolve().parents[2] / "contrib" / "seasons" / "linkong-2026-middle.toml"
)
SEATS: Final = {"LK-YJ-M1": 1, "LK-YY-M1": 1}


def tight_middle() -> SeasonFile:
    """The sample middle season with one seat at 燕矶镇中学 and 杨叶镇中学, none elsewhere."""
    data = read_season_file(MIDDLE)
    schools = [
        s.model_copy(
            update={"classes": 1 if s.code in SEATS else 0, "class_size": 1, "reserved": 0}
        )
        for s in data.schools
    ]
    return data.model_copy(update={"schools": schools})


async def graduate(
    runtime: Runtime, season: str, family: int, primary: str | None, category: str
) -> int:
    """An approved junior application in 燕矶镇 (zoned 燕矶镇中学) from ``primary``."""
    command = dataclasses.replace(
        submit_command(
            season,
            child_id=child_id_number(born=date(2013, 5, 1)),
            guardian_id=make_national_id("420704", date(1980, 1, 1), 300 + family),
            guardian_name="李四",
        ),
        primary_school_code=primary,
    )
    application_id = (await submit_application(runtime, command, COUNTER)).application_id

    def advance(uow: UnitOfWork) -> None:
        school = uow.session.exec(select(School).where(School.code == "LK-YJ-M1")).one()
        uow.session.add(
            Assessment(
                application_id=application_id,
                decision="verified",
                reason_code="verified",
                reason="核验合格",
                category=category,
                schools=["LK-YJ-M1"],
            )
        )
        for event, actor, changes in (
            (Event.START_VERIFICATION, Principal.system(), None),
            (Event.PASS_VERIFICATION, Principal.system(), {"school_id": school.id}),
            (
                Event.APPROVE,
                SCHOOL_REVIEWER.__class__("r", SCHOOL_REVIEWER.role, "x", school_code="LK-YJ-M1"),
                None,
            ),
            (Event.APPROVE, BUREAU, None),
        ):
            case = load_case(uow, application_id)
            assert case is not None
            apply_event(uow, case, event, actor, changes=changes)
        uow.commit()

    await runtime.write(advance)
    return application_id


async def test_graduates_go_to_their_feeder_school_first(runtime: Runtime) -> None:
    data = tight_middle()
    season = data.season.code
    now = utcnow()
    window = (now - timedelta(days=1), now + timedelta(days=1))
    await load_season(runtime, data, Principal.system(), window=window)
    from_yy = await graduate(runtime, season, 1, "LK-YY-01", "A")  # 杨叶镇中心小学 → 杨叶镇中学
    from_yj = await graduate(runtime, season, 2, "LK-YJ-01", "A")  # 燕矶镇中心小学 → 燕矶镇中学
    moved_in = await graduate(runtime, season, 3, "WH-0001", "B")  # not in the mapping
    await turn(runtime, data, Phase.PLACEMENT)
    results = await stored_run(runtime, season)
    assert (results[from_yy].school_code, results[from_yy].tier) == ("LK-YY-M1", "feeder")
    assert (results[from_yj].school_code, results[from_yj].tier) == ("LK-YJ-M1", "feeder")
    assert "小升初对口直升" in results[from_yy].explanation
    # placed by address: its zoned school is full, and so is every other school with seats
    assert results[moved_in].school_code is None
    assert "【划片对口入学】燕矶镇中学（LK-YJ-M1）" in results[moved_in].explanation


async def test_only_a_junior_season_takes_a_primary_school(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    now = utcnow()
    await load_season(
        runtime,
        season_file,
        Principal.system(),
        window=(now - timedelta(days=1), now + timedelta(days=1)),
    )
    command = dataclasses.replace(
        submit_command(season_file.season.code), primary_school_code="LK-YJ-01"
    )
    with pytest.raises(InvalidInput) as refused:
        await submit_application(runtime, command, COUNTER)
    assert refused.value.field == "primarySchoolCode"
    malformed = dataclasses.replace(command, primary_school_code="燕矶小学")
    with pytest.raises(InvalidInput):
        await submit_application(runtime, malformed, COUNTER)
