"""Policy-care claims (政策性照顾) declared by the family and decided by the bureau: only a
confirmed claim takes a reserved seat; a rejected one competes like everyone else."""

from __future__ import annotations

import pytest
from placement_helpers import approved, open_tight_season, stored_run, tight, turn

from ruxue_core.errors import Forbidden, Ineligible, InvalidTransition, NotFound, OutOfPhase
from ruxue_core.phases import Phase
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.care_claims import care_categories, decide_care, declare_care
from ruxue_core.testing.factories import BUREAU, COUNTER, OTHER_COUNTER, SCHOOL_REVIEWER


async def test_declared_then_decided_and_only_confirmed_claims_are_honoured(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    """LK-YJ-01's three seats are all reserved (two military, one martyr) in the tight
    season. Two third-category children declare military care: the confirmed one takes a
    reserved seat ahead of the first-category children, the rejected one does not."""
    season = await open_tight_season(runtime, season_file)
    assert [c.kind for c in await care_categories(runtime, season)] == [
        "military",
        "martyr",
        "talent",
    ]
    first = [i for family in range(4) for i in await approved(runtime, season, family)]
    (kept,) = await approved(runtime, season, 8, category="C")
    (turned_down,) = await approved(runtime, season, 9, category="C")
    with pytest.raises(Ineligible):
        await declare_care(runtime, kept, "astronaut", COUNTER)
    with pytest.raises(NotFound):  # out of scope
        await declare_care(runtime, kept, "military", OTHER_COUNTER)
    with pytest.raises(NotFound):  # nothing declared yet
        await decide_care(runtime, kept, True, BUREAU)
    for application in (kept, turned_down):
        declared = await declare_care(runtime, application, "military", COUNTER)
        assert (declared.kind, declared.status) == ("military", "declared")
    with pytest.raises(Forbidden):
        await decide_care(runtime, kept, True, SCHOOL_REVIEWER)
    assert (await decide_care(runtime, kept, True, BUREAU)).status == "confirmed"
    assert (await decide_care(runtime, turned_down, False, BUREAU)).status == "rejected"
    with pytest.raises(InvalidTransition):
        await decide_care(runtime, kept, False, BUREAU)
    with pytest.raises(InvalidTransition):  # decided: the family cannot change it
        await declare_care(runtime, kept, "martyr", COUNTER)

    await turn(runtime, tight(season_file), Phase.PLACEMENT)
    with pytest.raises(OutOfPhase):  # declarations close with registration
        await declare_care(runtime, first[0], "military", COUNTER)
    results = await stored_run(runtime, season)
    assert (results[kept].school_code, results[kept].reserved) == ("LK-YJ-01", True)
    assert results[turned_down].school_code != "LK-YJ-01" and not results[turned_down].reserved
    assert len([i for i in first if results[i].school_code == "LK-YJ-01"]) == 2
