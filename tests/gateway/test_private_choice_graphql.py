"""``privateSchoolOptions`` and ``choosePrivateSchool`` through GraphQL: the options are
public, and each refusal is a typed result (unknown school, not offered, registration closed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ruxue_core.domain.types import utcnow
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import GUARDIAN, submit_command
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
OPTIONS = """query($s: String!) { privateSchoolOptions(seasonCode: $s) { __typename
  ... on PrivateSchoolOptionList { options { code name seats } } ... on Error { code } } }"""
CHOOSE = """mutation($input: ChoosePrivateSchoolInput!) { choosePrivateSchool(input: $input) {
  __typename ... on PrivateSchoolChosen { schoolCode version }
  ... on Error { code message field } } }"""
SHOWN = """query($id: ID!) { application(id: $id) { __typename
  ... on Application { privateSchoolCode privateSchoolName primarySchoolCode } } }"""


async def run(runtime: Runtime, principal: Principal | None, query: str, **v: Any) -> Any:
    """Execute as ``principal``; return the one result."""
    result = await SCHEMA.execute(
        query, variable_values=v, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    return value


async def _open(runtime: Runtime, season_file: SeasonFile, *, days: int) -> None:
    window = (utcnow() - timedelta(days=2), utcnow() + timedelta(days=days))
    await load_season(runtime, season_file, Principal.system(), window=window)


async def test_a_guardian_chooses_and_each_refusal_is_typed(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    season = season_file.season.code
    await _open(runtime, season_file, days=1)
    options = await run(runtime, None, OPTIONS, s=season)
    assert options["options"] == [{"code": "LK-MB-01", "name": "临空实验学校（民办）", "seats": 80}]
    assert (await run(runtime, None, OPTIONS, s="nope"))["__typename"] == "NotFoundError"
    submitted = await submit_application(runtime, submit_command(season), GUARDIAN)
    target = str(submitted.application_id)

    async def choose(code: str | None) -> Any:
        command = {"applicationId": target, "schoolCode": code}
        return await run(runtime, GUARDIAN, CHOOSE, input=command)

    assert (await choose("LK-ZZ-99"))["__typename"] == "NotFoundError"
    refused = await choose("LK-YJ-01")
    assert (refused["__typename"], refused["field"]) == ("IneligibleError", "schoolCode")
    assert (await choose("LK-MB-01")) == {
        "__typename": "PrivateSchoolChosen",
        "schoolCode": "LK-MB-01",
        "version": 2,
    }
    shown = await run(runtime, GUARDIAN, SHOWN, id=target)
    assert shown == {
        "__typename": "Application",
        "privateSchoolCode": "LK-MB-01",
        "privateSchoolName": "临空实验学校（民办）",
        "primarySchoolCode": None,
    }
    await _open(runtime, season_file, days=-1)  # registration closed yesterday
    closed = await choose(None)
    assert closed["__typename"] == "OutOfPhaseError" and "不在报名时间内" in closed["message"]
    assert (closed["code"], closed["field"]) == ("OUT_OF_PHASE", "schoolCode")
