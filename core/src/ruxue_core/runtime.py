"""The running core: settings, database, keys and plugin host, built once per process.

Use cases reach the database only through :meth:`Runtime.write` and :meth:`Runtime.read`: each
runs one synchronous unit of work in one hop to a database thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Final, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from ruxue_core import keys
from ruxue_core.changefeed import ChangeFeed
from ruxue_core.checks import SourceGuards
from ruxue_core.db import Database
from ruxue_core.domain.enums import Role
from ruxue_core.errors import ConfigurationError
from ruxue_core.guardian_sessions import GuardianSessions
from ruxue_core.material_store import MaterialStore, open_material_store, storage_root
from ruxue_core.plugins.contracts import Principal
from ruxue_core.plugins.host import PluginHost
from ruxue_core.ratelimit import SlidingWindowLimiter
from ruxue_core.security import PiiCipher
from ruxue_core.settings import Settings
from ruxue_core.sms_vendors import Pacer, Tallies
from ruxue_core.staff import StaffDirectory
from ruxue_core.uow import JOBS_CHANNEL, LostRace, UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_AUTHORIZATION: Final = 8192
RACE_RETRIES: Final = 3


def check_settings(settings: Settings) -> None:
    """Refuse a production configuration that cannot work, naming the setting at fault.

    :raises ConfigurationError: production without a database URL, one of its keys or the
        materials' storage directory.
    """
    if settings.embedded:
        return
    if not settings.database_url:
        raise ConfigurationError("生产模式必须通过环境变量 RUXUE_DATABASE_URL 指定数据库")
    for spec in keys.PRODUCTION_KEYS:
        keys.load_key(settings, spec)
    storage_root(settings)


@dataclass
class Runtime:
    """Everything a use case or worker needs, shared by the gateway, the CLI and the worker."""

    settings: Settings
    db: Database
    cipher: PiiCipher
    host: PluginHost
    jobs_ready: asyncio.Event = field(default_factory=asyncio.Event)
    lookups: SlidingWindowLimiter = field(default_factory=lambda: SlidingWindowLimiter(60.0))
    logins: SlidingWindowLimiter = field(default_factory=lambda: SlidingWindowLimiter(60.0))
    sms_pacers: dict[str, Pacer] = field(default_factory=dict)
    """Per SMS vendor, the spacing of this process's sends to it (see dispatch)."""
    sms_tallies: Tallies = field(default_factory=Tallies)
    """SMS vendors' outcomes not yet written to their rows (see :mod:`ruxue_core.sms_vendors`)."""
    staff: StaffDirectory = field(init=False)
    guardian_sessions: GuardianSessions = field(init=False)
    sources: SourceGuards = field(init=False)
    materials: MaterialStore = field(init=False)
    changes: ChangeFeed = field(init=False)
    """Committed status changes, for live updates (one poller per process, when used)."""

    def __post_init__(self) -> None:
        self.staff = StaffDirectory(self)
        self.guardian_sessions = GuardianSessions(self)
        self.sources = SourceGuards(self.settings.verification)
        self.materials = open_material_store(self.settings)
        self.changes = ChangeFeed(self)

    @classmethod
    def create(cls, settings: Settings, *, extra_plugins: Iterable[object] = ()) -> Runtime:
        """Build the engine, load the keys and the configured plugins; open no connection.

        :raises ConfigurationError: a missing key, or a configured plugin that is not installed.
        """
        check_settings(settings)
        host = PluginHost.create(settings, extra_plugins=extra_plugins)
        host.check_configuration()
        return cls(
            settings=settings,
            # A worker runs a whole batch at once: give each job a pooled connection.
            db=Database(settings.resolved_database_url, pool_size=settings.worker.batch_size),
            cipher=PiiCipher(keys.load_key(settings, keys.PII_KEY)),
            host=host,
        )

    async def write(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` as one writing unit of work (it commits what it wants kept).

        A unit that lost a race for a unique key (``LostRace``) runs again, a few times.
        """
        queued: list[int] = []

        def run(session: Session) -> T:
            uow = self._uow(session)
            try:
                return work(uow)
            finally:
                queued.append(uow.jobs_queued)

        try:
            for _ in range(RACE_RETRIES - 1):
                try:
                    return await self.db.run(run)
                except LostRace:
                    continue
            return await self.db.run(run)
        finally:
            if any(queued):
                self.jobs_ready.set()

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` as one read-only unit of work (no write lock is taken)."""
        return await self.db.run(lambda session: work(self._uow(session)), read_only=True)

    async def fetch(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work``, a read of one statement, outside any transaction (see
        :meth:`Database.fetch`): the cheapest way to the database."""
        return await self.db.fetch(work)

    def write_here(self, work: Callable[[UnitOfWork], T]) -> T:
        """:meth:`write` in the calling thread, for synchronous callers (the CLI)."""
        return self.db.run_here(lambda session: work(self._uow(session)))

    def read_here(self, work: Callable[[UnitOfWork], T]) -> T:
        """:meth:`read` in the calling thread, for synchronous callers (the CLI)."""
        return self.db.run_here(lambda session: work(self._uow(session)), read_only=True)

    def _uow(self, session: Session) -> UnitOfWork:
        return UnitOfWork(
            session, settings=self.settings, cipher=self.cipher, postgres=self.db.postgres
        )

    async def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal the ``Authorization`` header proves, or ``None`` (anonymous).

        Each configured identity provider is asked in turn; a staff or guardian session must
        also still be current (the account active, the session not ended). A provider that
        fails is logged and skipped: a broken credential never becomes an error, only anonymity.
        """
        if not authorization or len(authorization) > MAX_AUTHORIZATION:
            return None
        for selected in self.host.identity_providers():
            try:
                principal = await selected.provider.authenticate(authorization)
            except Exception:
                log.exception("identity provider %s failed; trying the next", selected.name)
                continue
            if principal is None:
                continue
            if principal.role not in selected.roles or principal.role is Role.SYSTEM:
                log.warning("identity provider %s vouched for a role it may not", selected.name)
                return None
            admitted = await self.staff.admit(replace(principal, provider=selected.name))
            return await self.guardian_sessions.admit(admitted) if admitted else None
        return None

    def listen_for_jobs(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """On PostgreSQL, a task that sets :attr:`jobs_ready` on every ``NOTIFY``; else idle."""
        return asyncio.create_task(self._listen(stop))

    async def _listen(self, stop: asyncio.Event) -> None:
        if not self.db.postgres:
            return
        import psycopg

        conninfo = self.db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {JOBS_CHANNEL}")
                    async for _ in connection.notifies():
                        self.jobs_ready.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("job notifications unavailable (%s); polling meanwhile", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)

    async def close(self) -> None:
        """End live-update subscriptions; close plugin clients and database connections."""
        await self.changes.close()
        await self.host.aclose()
        await self.db.dispose()
