"""``serviceGuide`` and ``schoolsForAddress``: anonymous, from the season's policy data."""

from __future__ import annotations

from typing import Any

import pytest

from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
GUIDE = """query($t: String!) { serviceGuide(townshipCode: $t) { __typename
  ... on ServiceGuide { townshipName conditions fees promiseDays materials { code when }
    steps { name timeLimit } places { name address hours } contacts { phone assumed } online
    privateSchools { code name seats } }
  ... on Error { code field } } }"""
CATCHMENT = """query($t: String!, $v: String, $e: String) {
  schoolsForAddress(townshipCode: $t, village: $v, estate: $e) { __typename
  ... on Catchment { townshipName matched { village estate schools { code plan } }
    areas { village } }
  ... on Error { code field } } }"""


async def run(runtime: Runtime, query: str, **variables: Any) -> dict[str, Any]:
    """Execute anonymously; return the one result."""
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, None)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    assert isinstance(value, dict)
    return value


async def test_every_township_has_a_guide(
    runtime: Runtime, season: str, season_file: SeasonFile
) -> None:
    townships = [r.code for r in season_file.regions if r.level == "township"]
    assert len(townships) == 8
    for code in townships:
        guide = await run(runtime, GUIDE, t=code)
        assert guide["__typename"] == "ServiceGuide", guide
        assert guide["fees"] == "不收费"
        assert guide["places"] and guide["contacts"] and guide["steps"]
        assert all(c["assumed"] for c in guide["contacts"])  # sample numbers, marked
        codes = {m["code"] for m in guide["materials"]}
        assert ("resettlement_agreement" in codes) is (code == "420704108")
        assert guide["promiseDays"] == 20
        assert guide["privateSchools"] == [
            {"code": "LK-MB-01", "name": "临空实验学校（民办）", "seats": 80}
        ]


@pytest.mark.parametrize(
    ("township", "error"),
    [("420704999", "NotFoundError"), ("燕矶镇", "InvalidInputError"), ("", "InvalidInputError")],
)
async def test_an_unknown_township_is_a_typed_error(
    runtime: Runtime, season: str, township: str, error: str
) -> None:
    assert (await run(runtime, GUIDE, t=township))["__typename"] == error
    assert (await run(runtime, CATCHMENT, t=township))["__typename"] == error


@pytest.mark.parametrize(
    ("village", "estate", "schools"),
    [
        ("机场社区", "空港花园", ["LK-HH-02", "LK-HH-01"]),
        ("机场社区", None, ["LK-HH-02"]),
        ("花湖社区", None, ["LK-HH-01"]),
        ("别的村", None, ["LK-HH-01"]),
        (None, None, ["LK-HH-01"]),
    ],
)
async def test_schools_for_address_picks_the_most_specific_area(
    runtime: Runtime, season: str, village: str | None, estate: str | None, schools: list[str]
) -> None:
    result = await run(runtime, CATCHMENT, t="420704104", v=village, e=estate)
    assert result["__typename"] == "Catchment", result
    assert [s["code"] for s in result["matched"]["schools"]] == schools
    assert len(result["areas"]) == 4
    assert all(s["plan"] > 0 for s in result["matched"]["schools"])


async def test_a_control_character_in_a_part_is_refused(runtime: Runtime, season: str) -> None:
    result = await run(runtime, CATCHMENT, t="420704104", v="机场\x00社区")
    assert (result["__typename"], result["field"]) == ("InvalidInputError", "village")
