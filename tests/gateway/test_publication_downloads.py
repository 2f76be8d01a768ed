"""Publication lists over HTTP: a school's list (masked names, receipt and notice numbers) as
CSV or XLSX for staff in scope, and a published run's lottery order for anyone, which
``ruxue lottery verify`` accepts."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from placement_helpers import SEED, approved, open_tight_season, tight, turn
from starlette.testclient import TestClient

from ruxue_core.phases import Phase
from ruxue_core.placement.lottery import commitment, verify
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.admission import publish_placement
from ruxue_core.services.lottery_draws import commit_lottery, reveal_lottery
from ruxue_core.services.placement import run_placement
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    BUREAU,
    GUARDIAN,
    OTHER_SCHOOL_REVIEWER,
    SCHOOL_REVIEWER,
)
from ruxue_gateway.app import create_app


@pytest.fixture
def runs(settings: Settings, season_file: SeasonFile) -> tuple[str, int, int]:
    """The tight season placed and published; returns the season, the published run and a
    later draft run."""

    async def make() -> tuple[str, int, int]:
        runtime = Runtime.create(settings)
        try:
            season = await open_tight_season(runtime, season_file)
            for family in range(5):
                await approved(runtime, season, family)
            await turn(runtime, tight(season_file), Phase.PLACEMENT)
            await commit_lottery(runtime, season, commitment(SEED), BUREAU)
            await reveal_lottery(runtime, season, SEED, BUREAU)
            published = await run_placement(runtime, season, BUREAU)
            draft = await run_placement(runtime, season, BUREAU)
            await turn(runtime, tight(season_file), Phase.PUBLICATION)
            await publish_placement(runtime, published.id or 0, BUREAU)
            return season, published.id or 0, draft.id or 0
        finally:
            await runtime.close()

    return asyncio.run(make())


def get(settings: Settings, path: str, principal: Principal | None) -> Any:
    headers = {}
    if principal is not None:
        headers["Authorization"] = f"Bearer {issue_dev_token(settings, principal)}"
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        return client.get(path, headers=headers)


def test_staff_in_scope_download_the_school_list(
    settings: Settings, runs: tuple[str, int, int]
) -> None:
    season = runs[0]
    response = get(settings, f"/placement/{season}/schools/LK-YJ-01.csv", BUREAU)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in response.headers["cache-control"]
    text = response.text
    assert text.count("张**") == 3 and "张小明" not in text and "LKLQ2026-LK-YJ-01-0001" in text
    sheet = get(settings, f"/placement/{season}/schools/LK-YJ-01.xlsx", SCHOOL_REVIEWER)
    assert sheet.status_code == 200
    workbook = load_workbook(io.BytesIO(sheet.content)).active
    assert workbook is not None and workbook.max_row == 4


@pytest.mark.parametrize(
    ("principal", "status"),
    [(None, 401), (GUARDIAN, 403), (OTHER_SCHOOL_REVIEWER, 404)],
    ids=["anonymous", "guardian", "other school"],
)
def test_others_are_refused(
    settings: Settings, runs: tuple[str, int, int], principal: Principal | None, status: int
) -> None:
    response = get(settings, f"/placement/{runs[0]}/schools/LK-YJ-01.csv", principal)
    assert response.status_code == status
    assert "张" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/placement/{season}/schools/NO-SUCH-01.csv",
        "/placement/no-such-season/schools/LK-YJ-01.csv",
    ],
    ids=["unknown school", "unknown season"],
)
def test_an_unknown_school_or_season_is_not_found_even_for_the_bureau(
    settings: Settings, runs: tuple[str, int, int], path: str
) -> None:
    response = get(settings, path.format(season=runs[0]), BUREAU)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_anyone_verifies_a_published_lottery_order(
    settings: Settings, runs: tuple[str, int, int]
) -> None:
    _, published, draft = runs
    response = get(settings, f"/placement/runs/{published}/lottery.csv", None)
    assert response.status_code == 200
    assert response.text.startswith("rank,receipt_no,lottery_number")
    assert verify(SEED, response.text, commitment(SEED)).ok
    lines = response.text.splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    assert not verify(SEED, "\n".join(lines), commitment(SEED)).ok
    assert get(settings, f"/placement/runs/{draft}/lottery.csv", None).status_code == 404
