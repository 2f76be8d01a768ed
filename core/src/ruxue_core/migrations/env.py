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
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()
