"""An operation outside its phase is the typed ``OutOfPhaseError``: the stable code, the
phase, its window and a Chinese message naming it."""

from __future__ import annotations

from datetime import UTC, datetime

from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import BUREAU
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
RUN = """mutation($input: RunPlacementInput!) { runPlacement(input: $input) { __typename
  ... on OutOfPhaseError { code message field phase opensAt closesAt } } }"""


async def test_a_run_outside_placement_is_out_of_phase(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    await load_season(runtime, season_file, Principal.system())  # July–August 2026, as written
    result = await SCHEMA.execute(
        RUN,
        variable_values={"input": {"seasonCode": season_file.season.code}},
        context_value=Context(runtime, BUREAU),
    )
    assert result.errors is None and result.data is not None
    error = result.data["runPlacement"]
    assert (error["__typename"], error["code"], error["phase"]) == (
        "OutOfPhaseError",
        "OUT_OF_PHASE",
        "placement",
    )
    assert datetime.fromisoformat(error["opensAt"]) == datetime(2026, 7, 27, 1, tzinfo=UTC)
    assert datetime.fromisoformat(error["closesAt"]) == datetime(2026, 7, 31, 9, 30, tzinfo=UTC)
    assert "不在派位时间内" in error["message"]
