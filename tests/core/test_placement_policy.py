"""The season's [placement] section and the derivation of engine input from it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ruxue_core.errors import InvalidInput
from ruxue_core.placement import Tier
from ruxue_core.placement.derive import (
    MISSING_KEY,
    ApplicationRow,
    SchoolRow,
    applicants_for,
    schools_for,
)
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.policy import SeasonFile, parse_season


def test_the_sample_season_has_a_placement_section(season_file: SeasonFile) -> None:
    placement = season_file.placement
    assert [k.code for k in placement.ordering_keys] == ["hukou_move_in", "property_registered"]
    assert {q.kind for q in placement.quotas} == {"military", "martyr", "talent"}
    assert (placement.warnings.yellow, placement.warnings.red) == (0.9, 1.0)
    assert placement.phases.enrollment is not None
    assert season_file.policy_json()["placement"]["notice_prefix"] == "LKLQ"


def _with(season_file: SeasonFile, placement: dict[str, Any]) -> dict[str, Any]:
    data = season_file.model_dump(mode="json")
    data["placement"] = placement
    return data


@pytest.mark.parametrize(
    ("placement", "field"),
    [
        ({"warnings": {"yellow": 1.0, "red": 0.9}}, "placement.warnings"),
        ({"neighbours": {"420704101": ["999"]}}, ""),
        ({"quotas": [{"kind": "m", "name": "x"}]}, "placement.quotas.0.kind"),
        ({"private": [{"school": "NOPE"}]}, ""),
        (
            {
                "ordering_keys": [
                    {"code": "k1", "name": "n", "source": "x", "subject": "child", "fact": "f"}
                ]
            },
            "placement.ordering_keys.0",
        ),
    ],
)
def test_a_wrong_placement_section_is_refused_naming_the_field(
    season_file: SeasonFile, placement: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_season(_with(season_file, placement))
    assert (refused.value.field or "").startswith(field)


SCHOOLS = [
    SchoolRow("A1", "t1", True, 10, taken=2),
    SchoolRow("A2", "t1", True, 5),
    SchoolRow("B1", "t2", True, 5),
    SchoolRow("C1", "t3", True, 5),
    SchoolRow("P1", "t1", False, 5),
]


def test_lists_run_zoned_township_neighbour_then_any() -> None:
    policy = PlacementPolicy.model_validate(
        {
            "neighbours": {"t1": ["t2"]},
            "private": [{"school": "P1"}],
            "ordering_keys": [
                {
                    "code": "hk",
                    "name": "户籍",
                    "source": "hukou",
                    "subject": "child",
                    "fact": "move_in_date",
                }
            ],
        }
    )
    rows = [
        ApplicationRow(
            "R1",
            "t1",
            "B",
            ("A1",),
            family=1,
            facts={("hukou", "child"): {"move_in_date": "2019-05-01"}},
            private="P1",
        ),
        ApplicationRow("R2", "t1", None, ("A1",), family=2),
    ]
    first, second = applicants_for(policy, ["A", "B"], SCHOOLS, rows)
    assert [(c.school, c.tier) for c in first.choices] == [
        ("P1", Tier.PRIVATE),
        ("A1", Tier.ZONED),
        ("A2", Tier.TOWNSHIP),
        ("B1", Tier.NEIGHBOUR),
        ("C1", Tier.ANY),
    ]
    assert first.category == 2 and first.keys == (date(2019, 5, 1).toordinal(),)
    assert second.category == 3 and second.keys == (MISSING_KEY,)
    assert second.choices[0].school == "A1"


def test_siblings_are_grouped_only_when_their_lists_agree() -> None:
    policy = PlacementPolicy()
    twins = [ApplicationRow(f"R{i}", "t1", "A", ("A1",), family=7) for i in range(2)]
    apart = [
        ApplicationRow("S1", "t1", "A", ("A1",), family=8),
        ApplicationRow("S2", "t2", "A", ("B1",), family=8),
    ]
    placed = applicants_for(policy, ["A"], SCHOOLS, twins + apart)
    assert [a.sibling_group for a in placed] == ["family-7", "family-7", None, None]


def test_schools_lose_taken_seats_and_reserve_capped_quotas() -> None:
    policy = PlacementPolicy.model_validate(
        {"quotas": [{"kind": "military", "name": "军", "seats": 3, "schools": {"A2": 9}}]}
    )
    schools = {s.id: s for s in schools_for(policy, SCHOOLS)}
    assert (schools["A1"].capacity, dict(schools["A1"].quotas)) == (8, {"military": 3})
    assert dict(schools["A2"].quotas) == {"military": 5}
    assert dict(schools["P1"].quotas) == {}
    coordination = {s.id: s for s in schools_for(policy, SCHOOLS, coordination=True)}
    assert dict(coordination["A1"].quotas) == {}
