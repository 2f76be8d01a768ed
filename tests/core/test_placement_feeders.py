"""小升初: the feeder-first step of list derivation (``feeder_first``), worked examples on the
sample middle-school season, then properties over random lists and mappings (hypothesis)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ruxue_core.domain.enums import Stage
from ruxue_core.placement import Applicant, Choice, School, Tier, explain, feeder_first, place
from ruxue_core.placement.lottery import draw
from ruxue_core.policy import read_season_file

SEASONS = Path(__file__).resolve().parents[2] / "contrib" / "seasons"


def test_a_graduate_has_the_feeder_school_first_after_a_chosen_private_school() -> None:
    feeders = {"P1": "M1", "P2": "M1"}
    derived = (Choice("K", Tier.PRIVATE), Choice("M2", Tier.ZONED), Choice("M1", Tier.TOWNSHIP))
    assert feeder_first(derived, "P1", feeders) == (
        Choice("K", Tier.PRIVATE),
        Choice("M1", Tier.FEEDER),
        Choice("M2", Tier.ZONED),
    )
    assert feeder_first(derived, "elsewhere", feeders) == derived  # moved in: address decides
    assert feeder_first(derived, None, feeders) == derived
    assert feeder_first((), "P2", feeders) == (Choice("M1", Tier.FEEDER),)


def test_feeder_graduates_are_placed_at_their_middle_school_and_told_why() -> None:
    feeders = {"P1": "M1", "P2": "M2"}
    zoned = (Choice("M2", Tier.ZONED), Choice("M1", Tier.TOWNSHIP))
    applicants = [
        Applicant("R1", 1, choices=feeder_first(zoned, "P1", feeders)),
        Applicant("R2", 1, choices=feeder_first(zoned, "P2", feeders)),
        Applicant("R3", 2, choices=feeder_first(zoned, "far-away", feeders)),
    ]
    result = place([School("M1", 1), School("M2", 1)], applicants, draw("feeder-seed"))
    assert (result.outcomes["R1"].school, result.outcomes["R1"].tier) == ("M1", Tier.FEEDER)
    assert (result.outcomes["R2"].school, result.outcomes["R2"].tier) == ("M2", Tier.FEEDER)
    assert result.outcomes["R3"].school is None
    assert "小升初对口直升" in explain(result, "R1")


def test_the_sample_middle_season_maps_every_sample_primary_school() -> None:
    primary = read_season_file(SEASONS / "linkong-2026-primary.toml")
    middle = read_season_file(SEASONS / "linkong-2026-middle.toml")
    feeders = {f.primary: f.middle for f in middle.feeders}
    public = [s for s in primary.schools if s.public]  # a private primary feeds no school
    assert set(feeders) == {s.code for s in public}
    junior = {s.code: s for s in middle.schools}
    for primary_school in public:
        school = junior[feeders[primary_school.code]]
        assert school.stage is Stage.JUNIOR and school.public
        assert school.township == primary_school.township  # 原则上不跨乡镇
    choices = feeder_first((), "LK-HH-02", feeders)
    assert choices == (Choice("LK-HH-M1", Tier.FEEDER),)


schools = st.sampled_from([f"S{i}" for i in range(6)])
tiers = st.sampled_from([t for t in Tier if t is not Tier.FEEDER])
choice_lists = st.lists(st.builds(Choice, schools, tiers), max_size=6).map(
    lambda cs: tuple(sorted(cs, key=lambda c: list(Tier).index(c.tier)))
)
mappings = st.dictionaries(st.sampled_from(["P1", "P2", "P3"]), schools, max_size=3)


@settings(max_examples=300)
@given(choice_lists, st.sampled_from(["P1", "P2", "P3", None]), mappings)
def test_feeder_first_properties(
    choices: tuple[Choice, ...], primary: str | None, feeders: dict[str, str]
) -> None:
    derived = feeder_first(choices, primary, feeders)
    middle = feeders.get(primary) if primary is not None else None
    if middle is None:
        assert derived == choices
        return
    private = [c for c in choices if c.tier is Tier.PRIVATE and c.school != middle]
    # the chosen private school(s), then the feeder school, then the rest in their order
    assert derived[: len(private)] == tuple(private)
    assert derived[len(private)] == Choice(middle, Tier.FEEDER)
    assert [c.school for c in derived].count(middle) == 1
    others = [c for c in choices if c.school != middle and c.tier is not Tier.PRIVATE]
    assert list(derived[len(private) + 1 :]) == others
    assert {c.school for c in derived} == {c.school for c in choices} | {middle}
    assert feeder_first(derived, primary, feeders) == derived  # idempotent
