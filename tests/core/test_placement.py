"""The placement engine: worked examples, then properties over random seasons (hypothesis)
checked against ``reference_choice``, the rules restated without the engine's heaps."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_instances import Instance, Unit, instances, reference_choice, units_of

from ruxue_core.errors import InvalidInput
from ruxue_core.placement import (
    Applicant,
    Choice,
    Placement,
    School,
    Tier,
    UnplacedReason,
    explain,
    place,
)
from ruxue_core.placement.explain import lottery_text
from ruxue_core.placement.lottery import draw


def zoned(*schools: str) -> tuple[Choice, ...]:
    tiers = (Tier.ZONED, Tier.COMMUNITY, Tier.TOWNSHIP, Tier.NEIGHBOUR)
    return tuple(Choice(s, tiers[i]) for i, s in enumerate(schools))


def run(instance: Instance) -> Placement:
    return place(instance.schools, instance.applicants, draw(instance.seed))


# --- worked examples -------------------------------------------------------------------------


def test_categories_then_keys_then_lottery_fill_the_zoned_school() -> None:
    schools = [School("A", 2), School("B", 5)]
    applicants = [
        Applicant("R1", category=2, keys=(5,), choices=zoned("A", "B")),
        Applicant("R2", category=1, keys=(9,), choices=zoned("A", "B")),
        Applicant("R3", category=2, keys=(3,), choices=zoned("A", "B")),
        Applicant("R4", category=2, keys=(3,), choices=zoned("A", "B")),
    ]
    result = place(schools, applicants, lambda r: {"R3": 7, "R4": 2}.get(r, 0))
    assert {a: o.school for a, o in result.outcomes.items()} == {
        "R2": "A",  # category 1 first
        "R4": "A",  # category 2, key 3, lottery 2 beats R3's 7
        "R3": "B",
        "R1": "B",
    }
    assert result.outcomes["R3"].tier is Tier.COMMUNITY
    cutoff = result.cutoffs["A"]
    assert cutoff.full and cutoff.admitted == 2
    assert cutoff.last_admitted is not None and cutoff.last_admitted.receipt_no == "R4"
    assert not result.cutoffs["B"].full


def test_a_lost_private_school_falls_back_to_the_zoned_school() -> None:
    schools = [School("P", 1), School("A", 1)]
    lists = (Choice("P", Tier.PRIVATE), Choice("A", Tier.ZONED))
    applicants = [
        Applicant("R1", category=1, choices=lists),
        Applicant("R2", category=1, choices=(Choice("A", Tier.ZONED),)),
    ]
    result = place(schools, applicants, lambda r: {"R1": 1, "R2": 2}[r])
    assert result.outcomes["R1"].school == "P" and result.outcomes["R1"].tier is Tier.PRIVATE
    assert result.outcomes["R2"].school == "A"
    crowded = [*applicants, Applicant("R0", category=1, choices=(Choice("P", Tier.PRIVATE),))]
    result = place(schools, crowded, lambda r: {"R0": 0, "R1": 1, "R2": 2}[r])
    assert result.outcomes["R0"].school == "P"
    assert result.outcomes["R1"].school == "A" and result.outcomes["R1"].tier is Tier.ZONED
    assert result.outcomes["R2"].school is None
    assert result.outcomes["R2"].reason is UnplacedReason.ALL_FULL


def test_twins_are_placed_together_or_not_at_all() -> None:
    schools = [School("A", 2), School("B", 2)]
    applicants = [
        Applicant("R1", category=1, choices=zoned("A", "B")),
        Applicant("T1", category=2, choices=zoned("A", "B"), sibling_group="twins"),
        Applicant("T2", category=2, choices=zoned("A", "B"), sibling_group="twins"),
        Applicant("R9", category=3, choices=zoned("A", "B")),
    ]
    result = place(schools, applicants, lambda r: 0)
    assert result.outcomes["R1"].school == "A"
    # one seat left at A does not fit the twins; R9 ranks below them, so it waits too
    assert result.outcomes["T1"].school == result.outcomes["T2"].school == "B"
    assert result.outcomes["R9"].school is None
    assert result.cutoffs["A"].admitted == 1


def test_reserved_seats_go_to_their_kind_first_and_revert_when_unused() -> None:
    schools = [School("A", 3, {"military": 1, "talent": 1})]
    applicants = [
        Applicant("R1", category=1, choices=zoned("A")),
        Applicant("R2", category=1, choices=zoned("A")),
        Applicant("R3", category=1, choices=zoned("A")),
        Applicant("M1", category=3, choices=zoned("A"), quota="military"),
    ]
    result = place(schools, applicants, lambda r: int(r[1:]))
    assert result.outcomes["M1"].school == "A" and result.outcomes["M1"].reserved
    # no talent applicant: that reserved seat goes to the best of the rest
    assert [a for a in ("R1", "R2", "R3") if result.outcomes[a].school] == ["R1", "R2"]
    assert result.outcomes["R3"].reason is UnplacedReason.ALL_FULL


def test_a_better_child_of_the_kind_takes_the_reserved_seat_from_a_worse_one() -> None:
    """A cascade: T's reserved seat at C bumps Z to B, Z bumps M1 to A, where M1 outranks
    M2 on the military seat; M2 then competes for the open seat and loses to R1."""
    schools = [
        School("A", 2, {"military": 1}),
        School("B", 1),
        School("C", 1, {"talent": 1}),
    ]
    applicants = [
        Applicant("Z", category=1, choices=zoned("C", "B")),
        Applicant("M1", category=2, choices=zoned("B", "A"), quota="military"),
        Applicant("R1", category=3, choices=zoned("A")),
        Applicant("M2", category=4, choices=zoned("A"), quota="military"),
        Applicant("T", category=5, choices=zoned("C"), quota="talent"),
    ]
    result = place(schools, applicants, lambda r: 0)
    placed = {a: (o.school, o.reserved) for a, o in result.outcomes.items()}
    assert placed == {
        "Z": ("B", False),
        "M1": ("A", True),
        "R1": ("A", False),
        "M2": (None, False),
        "T": ("C", True),
    }


def test_no_list_means_coordination_with_its_own_reason() -> None:
    result = place([School("A", 1)], [Applicant("R1", category=1)], lambda r: 0)
    assert result.outcomes["R1"].reason is UnplacedReason.NO_CHOICES
    assert result.unplaced() == [result.outcomes["R1"]]


@pytest.mark.parametrize(
    ("schools", "applicants", "field"),
    [
        ([School("A", 1), School("A", 2)], [], "schools"),
        ([School("A", -1)], [], "schools"),
        ([School("A", 1, {"military": 2})], [], "schools"),
        ([School("A", 1)], [Applicant("R1", 1), Applicant("R1", 1)], "applicants"),
        ([School("A", 1)], [Applicant("R1", 1, choices=zoned("Z"))], "choices"),
        (
            [School("A", 1), School("B", 1)],
            [
                Applicant("R1", 1, choices=zoned("A"), sibling_group="g"),
                Applicant("R2", 1, choices=zoned("B"), sibling_group="g"),
            ],
            "sibling_group",
        ),
    ],
)
def test_bad_input_is_refused(
    schools: list[School], applicants: list[Applicant], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        place(schools, applicants, lambda r: 0)
    assert refused.value.field == field


def test_explanation_names_category_lottery_cutoffs_and_round() -> None:
    schools = [School("东湖小学", 1), School("临江小学", 1)]
    applicants = [
        Applicant("R1", category=2, keys=(3,), choices=zoned("东湖小学", "临江小学")),
        Applicant("R2", category=2, keys=(3,), choices=zoned("东湖小学", "临江小学")),
    ]
    result = place(schools, applicants, lambda r: {"R1": 5, "R2": 9}[r])
    text = explain(result, "R2", {2: "有房无户"})
    assert "录取到 临江小学" in text and "统筹：同村（社区）" in text
    assert "第 2 顺位（有房无户）" in text
    assert "1. 【划片对口入学】东湖小学：未录取" in text and "摇号号码靠后" in text
    assert "录取线：第 2 顺位、排序条件 3、摇号号码 5" in text
    assert "摇号号码：9" in text
    winner = explain(result, "R1")
    assert "录取到 东湖小学" in winner and "未参与此校派位" in winner
    assert "摇号号码：5" in winner  # R2 tied on category and keys: the lottery decided
    clear = place(
        schools,
        [applicants[0], Applicant("R2", 3, choices=applicants[1].choices)],
        {"R1": 5, "R2": 9}.__getitem__,
    )
    assert "摇号号码：" not in explain(clear, "R1")  # the category decided
    nobody = place(schools, [Applicant("R3", 1)], lambda r: 0)
    assert "转入统筹" in explain(nobody, "R3")


def test_explanation_names_schools_where_names_are_given() -> None:
    schools = [School("S1", 1), School("S2", 1)]
    applicants = [
        Applicant("R1", 1, choices=zoned("S1", "S2")),
        Applicant("R2", 2, choices=zoned("S1", "S2")),
    ]
    result = place(schools, applicants, lambda r: 0)
    text = explain(result, "R2", school_names={"S1": "东湖小学", "S2": "临江小学"})
    assert "录取到 临江小学（S2）" in text
    assert "1. 【划片对口入学】东湖小学（S1）：未录取" in text
    assert "录取到 S2" in explain(result, "R2")  # no names: the code


# --- properties over random seasons ----------------------------------------------------------


def admitted_units(result: Placement, units: list[Unit]) -> dict[str, list[Unit]]:
    at: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        school = result.outcomes[unit.lead].school
        if school is not None:
            at[school].append(unit)
    return at


@settings(max_examples=300)
@given(instances())
def test_capacity_siblings_reasons_and_reserved_seats(instance: Instance) -> None:
    result = run(instance)
    units = units_of(instance.applicants, draw(instance.seed))
    schools = {s.id: s for s in instance.schools}
    at = admitted_units(result, units)
    for school in instance.schools:
        taken = sum(u.weight for u in at[school.id])
        assert taken <= school.capacity
        assert result.cutoffs[school.id].admitted == taken
        for kind, seats in school.quotas.items():
            on_reserve = [
                a
                for a, o in result.outcomes.items()
                if o.school == school.id and o.reserved and instance_kind(instance, a) == kind
            ]
            assert len(on_reserve) <= seats
    for unit in units:
        assert len({result.outcomes[m].school for m in unit.members}) == 1, "siblings split"
    for applicant in instance.applicants:
        outcome = result.outcomes[applicant.id]
        assert (outcome.school is None) == (outcome.reason is not None)
        if outcome.school is None:
            expected = UnplacedReason.ALL_FULL if applicant.choices else UnplacedReason.NO_CHOICES
            assert outcome.reason is expected
        else:
            assert outcome.choice_index is not None
            assert applicant.choices[outcome.choice_index].school == outcome.school
            if outcome.reserved:
                assert applicant.quota in schools[outcome.school].quotas
                assert applicant.sibling_group is None


def instance_kind(instance: Instance, applicant_id: str) -> str | None:
    return next(a.quota for a in instance.applicants if a.id == applicant_id)


@settings(max_examples=300)
@given(instances())
def test_stable_no_blocking_pairs(instance: Instance) -> None:
    """Stability. For each school, everyone who wanted it (admitted there, or ranking it
    above their own result) is chosen from by the rules: the school must admit exactly those
    it admitted. And, counted pair by pair, nobody who wanted a school was turned away while
    someone ranked below them took an open seat there (reserved seats are the quota's)."""
    result = run(instance)
    units = units_of(instance.applicants, draw(instance.seed))
    wanted: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        outcome = result.outcomes[unit.lead]
        stop = len(unit.choices) if outcome.choice_index is None else outcome.choice_index + 1
        for school_id in set(unit.choices[:stop]):
            wanted[school_id].append(unit)
    blocked = []
    for school in instance.schools:
        admitted = {u.lead for u in units if result.outcomes[u.lead].school == school.id}
        assert reference_choice(school, wanted[school.id]) == admitted
        turned_away = [u for u in wanted[school.id] if u.lead not in admitted]
        on_open = [
            u
            for u in wanted[school.id]
            if u.lead in admitted and not result.outcomes[u.lead].reserved
        ]
        blocked += [(u.lead, v.lead) for u in turned_away for v in on_open if v.rank > u.rank]
    assert blocked == []


@settings(max_examples=100)
@given(instances(), st.randoms(use_true_random=False))
def test_same_seed_same_result_whatever_the_input_order(
    instance: Instance, rnd: random.Random
) -> None:
    first = run(instance)
    shuffled = list(instance.applicants)
    rnd.shuffle(shuffled)
    again = place(list(reversed(instance.schools)), shuffled, draw(instance.seed))
    assert again.outcomes == first.outcomes
    assert again.cutoffs == first.cutoffs


@settings(max_examples=100)
@given(instances(siblings=False, quotas=False))
def test_singles_without_reserved_seats_take_the_fast_path_to_the_same_result(
    instance: Instance,
) -> None:
    """The common case runs a leaner loop; adding an unused reserve kind forces the general
    loop, which must give the same placement."""
    fast = run(instance)
    general = [School(s.id, s.capacity, {"unused": 0}) for s in instance.schools]
    marked = [
        Applicant(a.id, a.category, a.keys, a.choices, quota="unused") for a in instance.applicants
    ]
    slow = place(general, marked, draw(instance.seed))
    assert {a: o.school for a, o in slow.outcomes.items()} == {
        a: o.school for a, o in fast.outcomes.items()
    }


def test_explanation_of_a_reserved_seat_and_a_drawn_number() -> None:
    schools = [School("A", 1, {"military": 1})]
    applicants = [
        Applicant("M1", category=3, choices=zoned("A"), quota="military"),
        Applicant("R1", category=1, choices=zoned("A")),
    ]
    result = place(schools, applicants, draw("seed"))
    assert "录取到 A（政策性照顾名额）" in explain(result, "M1")
    refused = explain(result, "R1")
    assert "转入统筹" in refused and "学位已由照顾名额或排位更前的学生占满" in refused
    assert lottery_text(int("ab" * 32, 16)) == "abababababababab…"
    assert lottery_text(42) == "42"
