"""Database engine and the unit of work.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and writers take the
database lock up front with ``BEGIN IMMEDIATE`` so two writers never deadlock on upgrade.
Read-only units use a plain deferred ``BEGIN``. Within one process, SQLite writers also queue
on an ``asyncio.Lock``: SQLite's own busy handler waits by sleeping (up to 100 ms a try), so
letting a process's writers contend inside SQLite costs far more than queueing them here.
PostgreSQL needs none of this.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel.ext.asyncio.session import AsyncSession

from ruxue_core.errors import Conflict

READ_ONLY = "ruxue_read_only"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``, tuned for SQLite's single writer when that is the backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_postgres(engine: AsyncEngine) -> bool:
    """Whether the engine talks to PostgreSQL (enables SKIP LOCKED and advisory locks)."""
    return engine.dialect.name == "postgresql"


class Database:
    """The engine plus a session factory; hands out units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = is_postgres(engine)
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._write_lock = None if self.postgres else asyncio.Lock()

    @asynccontextmanager
    async def session(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed by the caller; rolled back on error.

        ``StaleDataError`` (a lost optimistic-locking race) surfaces as ``Conflict``.
        """
        if read_only or self._write_lock is None:
            async with self._session(read_only=read_only) as session:
                yield session
        else:
            async with self._write_lock, self._session(read_only=False) as session:
                yield session

    @asynccontextmanager
    async def _session(self, *, read_only: bool) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            if read_only:
                await session.connection(execution_options={READ_ONLY: True})
            try:
                yield session
            except StaleDataError:
                await session.rollback()
                raise Conflict() from None
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
