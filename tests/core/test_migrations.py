"""The Alembic migrations produce exactly the schema the tables in code describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from ruxue_core.db import create_engine
from ruxue_core.migrate import alembic_config, schema_drift, upgrade_async


async def _tables_and_revision(database_url: str) -> tuple[set[str], str | None]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            revision = (
                await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    return tables, revision


async def test_migrated_schema_has_no_drift(database_url: str) -> None:
    assert await schema_drift(database_url) == []


async def test_database_is_at_the_single_head_with_every_table(database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have branched: {heads}"
    tables, revision = await _tables_and_revision(database_url)
    assert revision == heads[0]
    assert set(SQLModel.metadata.tables) <= tables
    assert tables - set(SQLModel.metadata.tables) == {"alembic_version"}


async def test_upgrading_again_is_a_no_op(database_url: str) -> None:
    before = await _tables_and_revision(database_url)
    await upgrade_async(database_url)
    assert await _tables_and_revision(database_url) == before
    assert await schema_drift(database_url) == []


async def test_drift_is_reported(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("ALTER TABLE message ADD COLUMN stray INTEGER"))
        drift = await schema_drift(database_url)
        assert drift, "an extra column must show up as drift"
        assert "stray" in repr(drift)
    finally:
        async with engine.begin() as connection:
            await connection.execute(sa.text("ALTER TABLE message DROP COLUMN stray"))
        await engine.dispose()
    assert await schema_drift(database_url) == []
