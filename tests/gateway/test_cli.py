"""The ``ruxue`` command: migrate, token, season load, audit verify (tamper detection)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ruxue_core.plugins.builtin import DevIdentityProvider
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import GUARDIAN, submit_command
from ruxue_gateway.cli import app

SEASONS_DIR = Path(__file__).resolve().parents[2] / "contrib" / "seasons"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI's own ``Settings()`` at the test database and data dir."""
    assert settings.database_url is not None
    monkeypatch.setenv("RUXUE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RUXUE_DATA_DIR", str(settings.data_dir))
    return settings


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_migrate_is_idempotent(cli_env: Settings) -> None:
    code, output = run("migrate")
    assert code == 0, output
    assert "migrated" in output


def test_token_is_accepted_by_the_dev_identity_provider(cli_env: Settings) -> None:
    code, output = run("token", "--role", "school_reviewer", "--school", "LK-YJ-01")
    assert code == 0
    principal = DevIdentityProvider(Settings()).authenticate(f"Bearer {output.strip()}")
    assert principal is not None
    assert principal.role == "school_reviewer"
    assert principal.school_code == "LK-YJ-01"


def test_season_load_rejects_a_bad_file(cli_env: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[season]\ncode = "X"\n', encoding="utf-8")
    code, output = run("season", "load", str(bad))
    assert code == 2
    assert "invalid_input" in output
    code, output = run("season", "load", str(SEASONS_DIR / "linkong-2026-primary.toml"))
    assert code == 0, output


def test_audit_verify_detects_a_tampered_row(seeded_settings: Settings, cli_env: Settings) -> None:
    async def submit() -> None:
        runtime = Runtime.create(seeded_settings)
        try:
            async with runtime.unit_of_work() as uow:
                await submit_application(uow, submit_command("2026-primary"), GUARDIAN)
        finally:
            await runtime.close()

    asyncio.run(submit())
    code, output = run("audit", "verify")
    assert code == 0, output
    assert "intact" in output

    assert seeded_settings.database_url is not None
    engine = sa.create_engine(seeded_settings.database_url.replace("+aiosqlite", ""))
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE audit_event SET actor = 'mallory' "
                "WHERE id = (SELECT MAX(id) FROM audit_event)"
            )
        )
    engine.dispose()
    code, output = run("audit", "verify")
    assert code == 1
    assert "broken" in output
