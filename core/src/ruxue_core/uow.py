"""The unit of work: one database transaction plus what must be written at its commit.

Services receive one, make their changes, and call :meth:`UnitOfWork.commit` once. Audit
entries collected on the way are chained into the log just before the commit, in the same
transaction, so a state change and its audit row stand or fall together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ruxue_core import audit, jobs
from ruxue_core.security import PiiCipher
from ruxue_core.settings import Settings


class UnitOfWork:
    """A session in one transaction, the PII cipher and the pending audit entries."""

    def __init__(
        self, session: AsyncSession, *, settings: Settings, cipher: PiiCipher, postgres: bool
    ) -> None:
        self.session = session
        self.settings = settings
        self.cipher = cipher
        self.postgres = postgres
        self._audit: list[audit.AuditEntry] = []

    def audit(self, entry: audit.AuditEntry) -> None:
        """Queue an audit entry; it is chained and written at commit."""
        self._audit.append(entry)

    async def enqueue(self, kind: str, payload: Mapping[str, Any], *, key: str) -> None:
        """Queue a job in this transaction with the configured attempt budget."""
        await jobs.enqueue(
            self.session, kind, payload, key=key, max_attempts=self.settings.worker.max_attempts
        )

    async def commit(self) -> None:
        """Chain the audit entries, then commit everything in one transaction."""
        await self.session.flush()
        await audit.seal(self.session, self._audit, postgres=self.postgres)
        self._audit.clear()
        await self.session.commit()
