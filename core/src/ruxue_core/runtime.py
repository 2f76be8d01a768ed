"""The running core: settings, database, PII cipher and plugin host, built once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ruxue_core.db import Database, create_engine
from ruxue_core.plugins.host import PluginHost
from ruxue_core.security import PiiCipher, load_master_key
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork


@dataclass
class Runtime:
    """Everything a service or worker needs, shared by the gateway, the CLI and the worker."""

    settings: Settings
    db: Database
    cipher: PiiCipher
    host: PluginHost

    @classmethod
    def create(cls, settings: Settings, *, extra_plugins: Iterable[object] = ()) -> Runtime:
        """Build the engine, load the PII key and the plugins. No connection is opened yet."""
        return cls(
            settings=settings,
            # A worker runs a whole batch at once: give each job a pooled connection.
            db=Database(
                create_engine(settings.resolved_database_url, pool_size=settings.worker.batch_size)
            ),
            cipher=PiiCipher(load_master_key(settings)),
            host=PluginHost.create(settings, extra_plugins=extra_plugins),
        )

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False) -> AsyncIterator[UnitOfWork]:
        """A unit of work in its own transaction; rolled back unless committed."""
        async with self.db.session(read_only=read_only) as session:
            yield UnitOfWork(
                session, settings=self.settings, cipher=self.cipher, postgres=self.db.postgres
            )

    async def close(self) -> None:
        """Close plugin clients and database connections."""
        await self.host.aclose()
        await self.db.dispose()
