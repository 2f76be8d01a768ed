"""The village tier (同村/社区) from the database: a child whose zoned school is full goes
first to the other schools the season's zones name for the village or community its address
matched, before the rest of the township; an address that matches no village skips the tier."""

from __future__ import annotations

from placement_helpers import approved, stored_run, tight, turn

from ruxue_core.phases import Phase
from ruxue_core.placement.derive import ApplicationRow, SchoolRow, applicants_for
from ruxue_core.placement.model import Tier
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime

HUAHU = "420704104"
ZONED = "LK-HH-02"


def test_the_community_tier_comes_between_zoned_and_township() -> None:
    schools = [
        SchoolRow("Z", "T", True, 1),
        SchoolRow("C", "T", True, 1),
        SchoolRow("O", "T", True, 1),
    ]
    row = ApplicationRow("R1", "T", "A", ("Z",), 1, community=("Z", "C", "PRIV"))
    (applicant,) = applicants_for(PlacementPolicy(), ["A"], schools, [row])
    assert [(c.school, c.tier) for c in applicant.choices] == [
        ("Z", Tier.ZONED),
        ("C", Tier.COMMUNITY),
        ("O", Tier.TOWNSHIP),
    ]


def _huahu(season_file: SeasonFile) -> SeasonFile:
    """The tight season with one seat at each 花湖镇 school (LK-HH-01, LK-HH-02) only."""
    data = tight(season_file)
    seats = {"LK-HH-01": 1, "LK-HH-02": 1}
    schools = [
        s.model_copy(update={"classes": 1 if s.code in seats else 0, "class_size": 1})
        for s in data.schools
    ]
    return data.model_copy(update={"schools": schools})


async def test_a_child_of_the_community_takes_its_other_school(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    """机场社区 is zoned to LK-HH-02, and its estate 空港花园 also to LK-HH-01: both are the
    community's schools. The second 机场社区 child, LK-HH-02 being full, is placed at LK-HH-01
    in the community round, not the township round."""
    data = _huahu(season_file)
    await turn(runtime, data, Phase.REGISTRATION)
    season = data.season.code
    (first,) = await approved(
        runtime, season, 1, address="花湖镇机场社区1号", township=HUAHU, zoned=ZONED
    )
    (second,) = await approved(
        runtime, season, 2, category="B", address="花湖镇机场社区2号", township=HUAHU, zoned=ZONED
    )
    await turn(runtime, data, Phase.PLACEMENT)
    results = await stored_run(runtime, season)
    assert (results[first].school_code, results[first].tier) == ("LK-HH-02", "zoned")
    assert (results[second].school_code, results[second].tier) == ("LK-HH-01", "community")
    assert "统筹：同村（社区）" in results[second].explanation


async def test_an_address_outside_every_village_skips_the_community_round(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    data = _huahu(season_file)
    await turn(runtime, data, Phase.REGISTRATION)
    season = data.season.code
    await approved(runtime, season, 1, address="花湖镇机场社区1号", township=HUAHU, zoned=ZONED)
    (elsewhere,) = await approved(
        runtime, season, 2, category="B", address="花湖镇别处5号", township=HUAHU, zoned=ZONED
    )
    await turn(runtime, data, Phase.PLACEMENT)
    results = await stored_run(runtime, season)
    assert (results[elsewhere].school_code, results[elsewhere].tier) == ("LK-HH-01", "township")
