"""``ruxue placement``: commit, reveal, run (dry and draft), compare, publish (once), the
lottery list that ``ruxue lottery verify`` and the contrib script accept, and school lists."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from placement_helpers import SEED, approved, open_tight_season, tight, turn
from typer.testing import CliRunner

from ruxue_core.phases import Phase
from ruxue_core.placement.lottery import commitment
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_gateway.cli import app

ROOT = Path(__file__).resolve().parents[2]
VERIFY_SCRIPT = ROOT / "contrib" / "lottery" / "verify_lottery.py"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def turn_to(settings: Settings, season_file: SeasonFile, phase: Phase) -> None:
    """Turn the tight season's calendar to ``phase``."""

    async def load() -> None:
        runtime = Runtime.create(settings)
        try:
            await turn(runtime, tight(season_file), phase)
        finally:
            await runtime.close()

    asyncio.run(load())


@pytest.fixture
def five(settings: Settings, season_file: SeasonFile, monkeypatch: pytest.MonkeyPatch) -> str:
    """Five approved families in the tight season; the CLI pointed at the same database."""
    assert settings.database_url is not None
    monkeypatch.setenv("RUXUE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RUXUE_DATA_DIR", str(settings.data_dir))

    async def seed() -> str:
        runtime = Runtime.create(settings)
        try:
            season = await open_tight_season(runtime, season_file)
            for family in range(5):
                await approved(runtime, season, family)
            return season
        finally:
            await runtime.close()

    return asyncio.run(seed())


def test_the_placement_commands_run_a_season(
    five: str, tmp_path: Path, settings: Settings, season_file: SeasonFile
) -> None:
    season = five
    code, output = run("placement", "commit", "--season", season, "--commitment", "a" * 64)
    assert code == 2 and "out_of_phase" in output and "不在派位时间内" in output
    turn_to(settings, season_file, Phase.PLACEMENT)
    code, output = run("placement", "run", "--season", season)
    assert code == 2 and "invalid_transition" in output  # the seed is not revealed yet
    assert run("placement", "commit", "--season", season, "--commitment", commitment(SEED))[0] == 0
    code, output = run("placement", "reveal", "--season", season, "--seed", "x" * 64)
    assert code == 2 and "invalid_input" in output
    assert run("placement", "reveal", "--season", season, "--seed", SEED)[0] == 0
    code, output = run("placement", "run", "--season", season, "--dry-run", "--json")
    assert code == 0, output
    assert json.loads(output)["run_id"] is None
    runs = []
    for _ in range(2):
        code, output = run("placement", "run", "--season", season, "--json")
        assert code == 0, output
        summary = json.loads(output)
        assert (summary["placed"], summary["coordinating"]) == (4, 1)
        runs.append(str(summary["run_id"]))
    code, output = run("placement", "compare", *runs)
    assert code == 0 and "0 人变化" in output
    turn_to(settings, season_file, Phase.PUBLICATION)
    code, output = run("placement", "publish", runs[0])
    assert code == 0 and "录取 4，统筹 1" in output
    code, output = run("placement", "publish", runs[0])
    assert code == 2 and "invalid_transition" in output

    listed = tmp_path / "order.csv"
    assert run("placement", "lottery-list", runs[0], "--out", str(listed))[0] == 0
    code, output = run("lottery", "verify", "--seed", SEED, "--list", str(listed))
    assert code == 0, output
    script = [sys.executable, str(VERIFY_SCRIPT), "--seed", SEED, "--list", str(listed)]
    assert subprocess.run(script, capture_output=True, check=False).returncode == 0
    lines = listed.read_text(encoding="utf-8").splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    listed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run("lottery", "verify", "--seed", SEED, "--list", str(listed))[0] == 1

    csv_path, xlsx_path = tmp_path / "yj.csv", tmp_path / "yj.xlsx"
    code, output = run(
        "placement", "list", "--season", season, "--school", "LK-YJ-01",
        "--csv", str(csv_path), "--xlsx", str(xlsx_path),
    )  # fmt: skip
    assert code == 0 and "3 人" in output
    text = csv_path.read_text(encoding="utf-8")
    assert "张**" in text and "张小明" not in text
    sheet = load_workbook(io.BytesIO(xlsx_path.read_bytes())).active
    assert sheet is not None and sheet.max_row == 4
