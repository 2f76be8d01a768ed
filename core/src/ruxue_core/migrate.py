"""Schema management through Alembic: ``upgrade`` to head, and a drift check for tests."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import ruxue_core.domain  # noqa: F401  - registers every table
from ruxue_core.db import create_engine


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the core's migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", "ruxue_core:migrations")
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (synchronous; starts its own event loop)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """:func:`upgrade` from inside a running event loop (runs it in a worker thread)."""
    await asyncio.to_thread(upgrade, database_url, revision)


async def schema_drift(database_url: str) -> list[Any]:
    """Differences between the migrated database and the tables in code (empty when in sync)."""
    engine = create_engine(database_url)

    def compare(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()
