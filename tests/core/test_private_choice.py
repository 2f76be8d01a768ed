"""Private-school choice (公民同招): the options are public, a guardian (or the counter for
them) chooses one while registration is open, placement tries it first and falls back to
public placement when its lottery is lost, and the explanation says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from placement_helpers import PRIVATE, SEED, approved, turn, with_private

from ruxue_core.domain.types import utcnow
from ruxue_core.errors import Conflict, Forbidden, Ineligible, NotFound, OutOfPhase
from ruxue_core.phases import Phase
from ruxue_core.placement.lottery import commitment
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.guide import service_guide
from ruxue_core.services.lottery_draws import commit_lottery, reveal_lottery
from ruxue_core.services.placement import placement_run, run_placement
from ruxue_core.services.private_choice import (
    ChoosePrivateSchool,
    choose_private_school,
    private_options,
)
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import BUREAU, COUNTER, OTHER_COUNTER, SCHOOL_REVIEWER


async def _load(runtime: Runtime, season_file: SeasonFile, *, open_now: bool = True) -> str:
    now = utcnow()
    window = (
        (now - timedelta(days=1), now + timedelta(days=1))
        if open_now
        else (now - timedelta(days=3), now - timedelta(days=2))
    )
    await load_season(runtime, with_private(season_file), Principal.system(), window=window)
    return season_file.season.code


async def test_options_are_public_and_in_the_service_guide(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    season = await _load(runtime, season_file)
    (option,) = await private_options(runtime, season)
    assert (option.code, option.seats) == (PRIVATE, 1)
    guide = await service_guide(runtime, "420704101", season)
    assert [o.code for o in guide.private_schools] == [PRIVATE]
    with pytest.raises(NotFound):
        await private_options(runtime, "no-such-season")


async def test_choice_is_checked_and_versioned(runtime: Runtime, season_file: SeasonFile) -> None:
    season = await _load(runtime, season_file)
    (application,) = await approved(runtime, season, 0)
    with pytest.raises(NotFound):
        await choose_private_school(runtime, ChoosePrivateSchool(application, "LK-XX-99"), COUNTER)
    with pytest.raises(Ineligible):  # a public school is no private option
        await choose_private_school(runtime, ChoosePrivateSchool(application, "LK-YJ-01"), COUNTER)
    with pytest.raises(NotFound):  # out of scope: the same answer as a missing application
        await choose_private_school(
            runtime, ChoosePrivateSchool(application, PRIVATE), OTHER_COUNTER
        )
    with pytest.raises(Forbidden):
        await choose_private_school(
            runtime, ChoosePrivateSchool(application, PRIVATE), SCHOOL_REVIEWER
        )
    chosen = await choose_private_school(
        runtime, ChoosePrivateSchool(application, PRIVATE), COUNTER
    )
    assert chosen.school_code == PRIVATE
    with pytest.raises(Conflict):
        await choose_private_school(
            runtime, ChoosePrivateSchool(application, None, chosen.version - 1), COUNTER
        )
    cleared = await choose_private_school(
        runtime, ChoosePrivateSchool(application, None, chosen.version), COUNTER
    )
    assert (cleared.school_code, cleared.version) == (None, chosen.version + 1)


async def test_choice_refused_once_registration_has_closed(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    season = await _load(runtime, season_file)
    (application,) = await approved(runtime, season, 0)
    await _load(runtime, season_file, open_now=False)
    with pytest.raises(OutOfPhase) as refused:
        await choose_private_school(runtime, ChoosePrivateSchool(application, PRIVATE), COUNTER)
    assert refused.value.phase == "registration" and "不在报名时间内" in refused.value.message


async def test_placement_tries_the_private_school_first_and_falls_back(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    season = await _load(runtime, season_file)
    ids = [i for family in range(3) for i in await approved(runtime, season, family)]
    for application in ids[:2]:  # two families want the private school's one seat
        await choose_private_school(runtime, ChoosePrivateSchool(application, PRIVATE), COUNTER)
    await turn(runtime, with_private(season_file), Phase.PLACEMENT)
    await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    await reveal_lottery(runtime, season, SEED, BUREAU)
    draft = await run_placement(runtime, season, BUREAU)
    assert draft.id is not None
    run = await placement_run(runtime, draft.id, BUREAU)
    results = {r.application_id: r for r in run.results}
    winners = [i for i in ids[:2] if results[i].school_code == PRIVATE]
    (loser,) = [i for i in ids[:2] if i not in winners]
    assert len(winners) == 1 and results[winners[0]].tier == "private"
    assert results[loser].school_code == "LK-YJ-01" and results[loser].tier == "zoned"
    assert "未被录取，按公办学校派位" in results[loser].explanation
    assert "摇号录取" in results[winners[0]].explanation
    assert results[ids[2]].school_code == "LK-YJ-01"  # no choice: never at the private school
    assert PRIVATE not in results[ids[2]].explanation
