"""Cross-check with the ``matching`` library (hospital–resident game): where its model applies
(single children, no reserved seats) our placement is its resident-optimal stable matching."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from matching.games import HospitalResident
from placement_instances import (
    Instance,
    assignment,
    instances,
    matching_game_input,
    random_instance,
)

from ruxue_core.placement import place
from ruxue_core.placement.lottery import draw


@pytest.fixture(autouse=True)
def deep_recursion() -> Iterator[None]:
    """``matching`` recurses once per proposal; larger games need a higher limit."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def resident_optimal(instance: Instance) -> dict[str, str]:
    """The library's resident-optimal stable matching, as applicant → school."""
    residents, hospitals, capacities = matching_game_input(instance, draw(instance.seed))
    if not residents:
        return {}
    game = HospitalResident.create_from_dictionaries(residents, hospitals, capacities)
    solved = game.solve(optimal="resident")
    return {r.name: h.name for h, matched in solved.items() for r in matched}


def ours(instance: Instance) -> dict[str, str]:
    result = place(instance.schools, instance.applicants, draw(instance.seed))
    return assignment({a: o.school for a, o in result.outcomes.items()})


@settings(max_examples=150)
@given(instances(siblings=False, quotas=False))
def test_small_random_seasons_match_the_library(instance: Instance) -> None:
    assert ours(instance) == resident_optimal(instance)


@pytest.mark.parametrize("size", [300, 2000])
def test_district_shaped_seasons_match_the_library(size: int) -> None:
    instance = random_instance(applicants=size, schools=max(10, size // 300), seed=size)
    expected = resident_optimal(instance)
    assert len(expected) > size * 0.9
    assert ours(instance) == expected
