"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
``RUXUE_TEST_DATABASE_URL`` is set), a runtime on it, and the sample season opened now."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings
from sqlmodel import SQLModel

from ruxue_core.domain.types import utcnow
from ruxue_core.migrate import upgrade
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile, read_season_file
from ruxue_core.runtime import Runtime
from ruxue_core.services.seasons import load_season
from ruxue_core.settings import Settings, to_sync_url

# Machines here are shared and noisy: a slow example is not a failure (no per-example deadline).
hypothesis_settings.register_profile("ruxue", deadline=None)
hypothesis_settings.load_profile("ruxue")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SEASON = ROOT / "contrib" / "seasons" / "linkong-2026-primary.toml"
PG_URL = os.environ.get("RUXUE_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a template SQLite file, or the PostgreSQL test database."""
    if PG_URL:
        url = to_sync_url(PG_URL)
        upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(_migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A clean, migrated database for one test."""
    if PG_URL:
        _truncate_all(_migrated_template)
        yield _migrated_template
        return
    path = tmp_path / "ruxue.db"
    shutil.copyfile(_migrated_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(scope="module")
def module_database_url(_migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A clean, migrated database shared by one test module (for module-scoped servers)."""
    if PG_URL:
        _truncate_all(_migrated_template)
        return _migrated_template
    path = tmp_path_factory.mktemp("module-db") / "ruxue.db"
    shutil.copyfile(_migrated_template, path)
    return f"sqlite:///{path}"


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own data dir and database, no plugins selected."""
    return Settings(
        data_dir=tmp_path / "var", database_url=database_url, verifiers=[], notifiers=[]
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime on the test database."""
    rt = Runtime.create(settings)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture(scope="session")
def season_file() -> SeasonFile:
    """The sample season of 临空经济区."""
    return read_season_file(SAMPLE_SEASON)


async def open_sample_season(runtime: Runtime, season_file: SeasonFile) -> str:
    """Load the sample season with its registration window open now; return its code."""
    window = (utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
    await load_season(runtime, season_file, Principal.system(), window=window)
    return season_file.season.code


@pytest.fixture
async def season(runtime: Runtime, season_file: SeasonFile) -> str:
    """The sample season, open now, for async tests; returns its code."""
    return await open_sample_season(runtime, season_file)


@pytest.fixture
def seeded_settings(settings: Settings, season_file: SeasonFile) -> Settings:
    """Settings whose database already holds the open sample season (for sync tests that
    drive the app or the CLI, which run their own event loops)."""

    async def seed() -> None:
        runtime = Runtime.create(settings)
        try:
            await open_sample_season(runtime, season_file)
        finally:
            await runtime.close()

    asyncio.run(seed())
    return settings
