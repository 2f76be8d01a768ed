"""``ruxue season load``: problems as one table and a non-zero exit with nothing written;
``--dry-run`` prints the diff and writes nothing; a load prints it and applies it; the same
files again change nothing."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from ruxue_core.domain import School, Season
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.cli import app

SEASONS = Path(__file__).resolve().parents[2] / "contrib" / "seasons"
MIDDLE = SEASONS / "linkong-2026-middle.toml"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI's own ``Settings()`` at the test database, on a wide terminal."""
    assert settings.database_url is not None
    monkeypatch.setenv("RUXUE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RUXUE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    return settings


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def stored(settings: Settings) -> tuple[int, int]:
    """How many seasons and schools the database holds."""

    async def read() -> tuple[int, int]:
        runtime = Runtime.create(settings)

        def work(uow: UnitOfWork) -> tuple[int, int]:
            seasons = uow.session.exec(select(func.count()).select_from(Season)).one()
            return seasons, uow.session.exec(select(func.count()).select_from(School)).one()

        try:
            return await runtime.read(work)
        finally:
            await runtime.close()

    return asyncio.run(read())


def test_bad_rows_print_as_a_table_and_nothing_is_loaded(cli_env: Settings, tmp_path: Path) -> None:
    shutil.copy(MIDDLE, tmp_path)
    shutil.copytree(SEASONS / "linkong-2026-middle", tmp_path / "linkong-2026-middle")
    with (tmp_path / "linkong-2026-middle" / "zones.csv").open("a", encoding="utf-8") as zones:
        zones.write("火星镇,,,LK-NOPE\n")
    code, output = run("season", "load", str(tmp_path / MIDDLE.name))
    assert code == 2, output
    assert "linkong-2026-middle/zones.csv" in output
    assert "unknown_township" in output and "unknown_school" in output
    assert "乡镇 火星镇 不存在" in output and "学校 LK-NOPE 不在学校名单中" in output
    assert "invalid_input" in output and "2 处问题" in output
    assert stored(cli_env) == (0, 0)


def test_dry_run_then_load_then_reload(cli_env: Settings) -> None:
    code, output = run("season", "load", str(MIDDLE), "--dry-run")
    assert code == 0, output
    assert "新招生季" in output and "LK-HH-M1" in output and "小升初对口" in output
    assert "dry run: nothing written" in output
    assert stored(cli_env) == (0, 0)

    code, output = run("season", "load", str(MIDDLE))
    assert code == 0, output
    assert "season loaded" in output
    assert stored(cli_env) == (1, 9)

    code, output = run("season", "load", str(MIDDLE), "--dry-run")
    assert code == 0, output
    assert "no differences" in output
    code, output = run("season", "load", str(MIDDLE))
    assert code == 0 and "no changes" in output, output
