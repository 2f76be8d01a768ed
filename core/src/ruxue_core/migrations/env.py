"""Alembic environment: runs migrations over the configured database's engine."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import ruxue_core.domain  # noqa: F401  - registers every table on SQLModel.metadata
from ruxue_core.db import create_engine

config = context.config
target_metadata = SQLModel.metadata

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations rebuild a table (copy, drop, rename); with foreign keys
                # enforced, dropping a table that other rows reference fails. SQLite ignores
                # this pragma inside a transaction: set it before the migration's one begins. The
                # engine (and this connection) is disposed of afterwards.
                driver_connection = connection.connection.driver_connection
                assert driver_connection is not None
                driver_connection.execute("PRAGMA foreign_keys=OFF")
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            connection.commit()
    finally:
        engine.dispose()
