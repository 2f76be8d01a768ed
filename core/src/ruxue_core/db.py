"""The database: a synchronous engine whose units of work each run in one hop to a thread.

Every statement through an asyncio driver is a round trip between the event loop and the
driver's thread; a use case of ten statements pays ten of them. Here a whole unit of work (its
statements and the commit) runs as one synchronous function in a database thread, so the event
loop hands it over once and gets the result back once.

SQLite (the embedded default) has one writer: writes queue on a single writer thread (no lock
contention, no sleeping busy handler inside a process) and take the lock up front with
``BEGIN IMMEDIATE``; reads run on a few reader threads with a plain ``BEGIN`` in WAL mode, so a
read never waits for a write. PostgreSQL runs reads and writes on a pool of threads, one pooled
connection each.

A read of one statement needs neither a transaction nor a session: :meth:`Database.fetch` runs
it on a connection its thread keeps open in autocommit mode, which costs a fifth of a unit of
work on SQLite and saves PostgreSQL the ``BEGIN``/``ROLLBACK`` and pool ping round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from ruxue_core.errors import Conflict

T = TypeVar("T")

READ_ONLY: Final = "ruxue_read_only"
AUTOCOMMIT: Final = "ruxue_autocommit"
SQLITE_READERS: Final = 4
POSTGRES_FETCHERS: Final = 4


def create_engine(url: str, *, pool_size: int = 10) -> sa.Engine:
    """A synchronous engine for ``url``; SQLite is tuned for one writer and WAL readers.

    Statement parameters are never rendered into error messages (they may hold personal data).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            hide_parameters=True,
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=SQLITE_READERS + 2,
        max_overflow=SQLITE_READERS,
        hide_parameters=True,
    )
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(AUTOCOMMIT, False):
            return  # each statement is its own implicit transaction
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def execute(
    session: Session, statement: sa.Executable, parameters: dict[str, Any] | None = None
) -> int:
    """Run a Core ``INSERT``/``UPDATE``/``DELETE`` in the session's transaction; return the
    number of rows it matched.

    Hot paths pass a statement built once (``functools.cache``) with ``bindparam``s and the
    values in ``parameters``: building a statement costs more than running it.
    """
    result: sa.CursorResult[Any] = session.connection().execute(statement, parameters)
    return result.rowcount


class Database:
    """The engine and the threads that run units of work on it."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.engine = create_engine(url, pool_size=pool_size)
        self.postgres = self.engine.dialect.name == "postgresql"
        if self.postgres:
            self._writer = self._reader = ThreadPoolExecutor(pool_size, "ruxue-db")
        else:
            self._writer = ThreadPoolExecutor(1, "ruxue-db-writer")
            self._reader = ThreadPoolExecutor(SQLITE_READERS, "ruxue-db-reader")
        self._fetcher = self._reader
        if self.postgres:
            self._fetcher = ThreadPoolExecutor(POSTGRES_FETCHERS, "ruxue-db-fetch")
        self._local = threading.local()
        self._kept: list[sa.Connection] = []
        self._kept_lock = threading.Lock()

    async def fetch(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work``, a read of ONE statement, in one hop to a database thread, outside any
        transaction (autocommit) and without a session.

        Only for a single statement: two statements here would not see one snapshot. A
        connection that broke is replaced and ``work`` tried once more.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._fetcher, self.fetch_here, work)

    def fetch_here(self, work: Callable[[sa.Connection], T]) -> T:
        """:meth:`fetch` in the calling thread (which keeps its connection open for the next)."""
        try:
            return self._fetch_once(work)
        except sa.exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return self._fetch_once(work)

    def _fetch_once(self, work: Callable[[sa.Connection], T]) -> T:
        conn = self._kept_connection()
        try:
            return work(conn)
        finally:
            conn.rollback()  # ends SQLAlchemy's bookkeeping only: autocommit sends nothing

    def _kept_connection(self) -> sa.Connection:
        conn: sa.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            options: dict[str, Any] = {AUTOCOMMIT: True, "isolation_level": "AUTOCOMMIT"}
            conn = self.engine.connect().execution_options(**options)
            self._local.conn = conn
            with self._kept_lock:
                self._kept.append(conn)
        return conn

    async def run(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        """Run ``work`` with a session in one transaction, in one hop to a database thread.

        ``work`` commits what it wants kept; anything uncommitted is rolled back afterwards.
        ``StaleDataError`` (a lost optimistic-locking race) surfaces as ``Conflict``.
        """
        loop = asyncio.get_running_loop()
        executor = self._reader if read_only else self._writer
        call = functools.partial(self.run_here, work, read_only=read_only)
        # The unit of work runs in the caller's context (its request id reaches the logs).
        return await loop.run_in_executor(executor, contextvars.copy_context().run, call)

    def run_here(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        """:meth:`run` in the calling thread (command-line tools, migrations, tests)."""
        with self.session(read_only=read_only) as session:
            return work(session)

    @contextlib.contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in one transaction; rolled back unless committed."""
        with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
            if read_only:
                session.connection(execution_options={READ_ONLY: True})
            try:
                yield session
            except StaleDataError:
                session.rollback()
                raise Conflict() from None
            finally:
                # Objects read here stay usable after the unit (detached, attributes loaded):
                # a rollback would expire them.
                session.expunge_all()
                session.rollback()

    async def dispose(self) -> None:
        """Stop the threads and close every pooled connection."""
        await asyncio.get_running_loop().run_in_executor(None, self.dispose_here)

    def dispose_here(self) -> None:
        """:meth:`dispose` from synchronous code."""
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self._fetcher.shutdown(wait=True)
        with self._kept_lock:
            for conn in self._kept:
                conn.close()
            self._kept.clear()
        self.engine.dispose()
