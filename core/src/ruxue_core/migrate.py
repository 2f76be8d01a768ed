"""Schema management through Alembic: ``upgrade`` to head, and a drift check for tests."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import ruxue_core.domain  # noqa: F401  - registers every table
from ruxue_core.db import create_engine
from ruxue_core.settings import Settings, to_sync_url

SETTINGS_ATTRIBUTE = "ruxue_settings"
"""Where migrations that must decrypt or encrypt data find the deployment's settings."""


def alembic_config(database_url: str, settings: Settings | None = None) -> Config:
    """An Alembic config pointing at the core's migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", "ruxue_core:migrations")
    config.set_main_option("sqlalchemy.url", to_sync_url(database_url).replace("%", "%%"))
    config.attributes[SETTINGS_ATTRIBUTE] = settings
    return config


def upgrade(database_url: str, revision: str = "head", *, settings: Settings | None = None) -> None:
    """Apply migrations up to ``revision``.

    :param settings: the deployment's settings, for migrations that re-encrypt data (their
        keys); defaults to ``Settings()``.
    """
    command.upgrade(alembic_config(database_url, settings), revision)


async def upgrade_async(
    database_url: str, revision: str = "head", *, settings: Settings | None = None
) -> None:
    """:func:`upgrade` from inside a running event loop (runs it in a worker thread)."""
    await asyncio.to_thread(upgrade, database_url, revision, settings=settings)


def schema_drift(database_url: str) -> list[Any]:
    """Differences between the migrated database and the tables in code (empty when in sync)."""
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))
    finally:
        engine.dispose()
