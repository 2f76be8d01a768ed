"""The unit of work: one database transaction plus the rows written at its commit.

A use case runs as one synchronous function in a database thread (see :mod:`ruxue_core.db`),
gets a ``UnitOfWork``, makes its changes and calls :meth:`UnitOfWork.commit` once. The rows a
state change causes (audit entries, provincial case records, SMS messages, outbox jobs) are
collected on the way and written at commit, one multi-row statement per table, in the same
transaction: the change and everything it causes stand or fall together.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from ruxue_core import audit
from ruxue_core.domain import Job
from ruxue_core.domain.enums import JobStatus
from ruxue_core.domain.types import utcnow
from ruxue_core.security import PiiCipher
from ruxue_core.settings import Settings

JOBS_CHANNEL = "ruxue_jobs"
"""The PostgreSQL ``NOTIFY`` channel that wakes workers when a commit queued jobs."""


@functools.cache
def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table a model is mapped to."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


@functools.cache
def _insert(table: sa.Table) -> sa.Insert:
    return table.insert()


@functools.cache
def _insert_returning_id(table: sa.Table, unless_exists: str | None, postgres: bool) -> Any:
    if unless_exists is None:
        return table.insert().returning(table.c.id)
    insert = postgresql.insert if postgres else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=[unless_exists])
    return statement.returning(table.c.id)


@functools.cache
def _insert_jobs(postgres: bool) -> Any:
    insert = postgresql.insert if postgres else sqlite.insert
    return insert(table_of(Job)).on_conflict_do_nothing(index_elements=["idempotency_key"])


@functools.cache
def _column_keys(model: type[SQLModel]) -> tuple[str, ...]:
    """The columns to insert: all but an autoincrement primary key."""
    return tuple(
        column.key
        for column in sa.inspect(model).columns
        if not (column.primary_key and column.autoincrement in (True, "auto"))
    )


@functools.cache
def _fixed_defaults(model: type[SQLModel]) -> dict[str, Any]:
    """The model's plain column defaults (not its default factories), by column."""
    columns = set(_column_keys(model))
    return {
        name: field.default
        for name, field in model.model_fields.items()
        if name in columns and not field.is_required() and field.default_factory is None
    }


class LostRace(Exception):
    """A unique key another transaction took first (a receipt number, a new guardian row):
    :meth:`ruxue_core.runtime.Runtime.write` runs the unit of work again, which then sees the
    winner's row."""


class UnitOfWork:
    """A session in one transaction, the PII cipher and the rows to write at commit."""

    def __init__(
        self, session: Session, *, settings: Settings, cipher: PiiCipher, postgres: bool
    ) -> None:
        self.session = session
        self.settings = settings
        self.cipher = cipher
        self.postgres = postgres
        self.now: datetime = utcnow()
        self.jobs_queued = 0
        self._audit: list[audit.AuditEntry] = []
        self._rows: dict[type[SQLModel], list[dict[str, Any]]] = defaultdict(list)
        self._jobs: list[dict[str, Any]] = []

    def audit(self, entry: audit.AuditEntry) -> None:
        """Queue an audit entry; it is appended to the log at commit."""
        self._audit.append(entry)

    def insert_at_commit(self, row: SQLModel) -> None:
        """Write ``row`` at commit, batched with the other rows of its table."""
        values = {key: getattr(row, key) for key in _column_keys(type(row))}
        self._rows[type(row)].append(values)

    def insert_values_at_commit(self, model: type[SQLModel], values: dict[str, Any]) -> None:
        """:meth:`insert_at_commit` for a hot path, from column values (no model object to
        build): the model's plain defaults fill the columns ``values`` leaves out; a column
        with no default or a default factory must be given.

        :raises ValueError: a column is missing, or ``values`` names an unknown one.
        """
        row = _fixed_defaults(model) | values
        expected = set(_column_keys(model))
        if row.keys() != expected:
            raise ValueError(
                f"{model.__name__}: missing {sorted(expected - row.keys())}, "
                f"unknown {sorted(row.keys() - expected)}"
            )
        self._rows[model].append(row)

    def insert_now(self, row: SQLModel, *, unless_exists: str | None = None) -> int | None:
        """Insert ``row`` now with one Core ``INSERT … RETURNING id`` and set its ``id``.

        :param unless_exists: a unique column: if a row with the same value exists, insert
            nothing and return ``None`` (``ON CONFLICT DO NOTHING``).
        :return: the new row's id.
        """
        table = table_of(type(row))
        values = {key: getattr(row, key) for key in _column_keys(type(row))}
        statement: Any = table.insert()
        if unless_exists is not None:
            insert = postgresql.insert if self.postgres else sqlite.insert
            statement = insert(table).on_conflict_do_nothing(index_elements=[unless_exists])
        new_id = (
            self.session.connection()
            .execute(statement.values(**values).returning(table.c.id))
            .scalar_one_or_none()
        )
        if new_id is not None:
            row.id = new_id  # every table inserted here has an integer id
        return new_id

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        key: str,
        delay: timedelta | None = None,
    ) -> None:
        """Queue a job at commit; a job whose ``key`` already exists is not added again."""
        self._jobs.append(
            {
                "kind": kind,
                "payload": dict(payload),
                "idempotency_key": key,
                "status": JobStatus.PENDING,
                "attempts": 0,
                "conflicts": 0,
                "max_attempts": self.settings.worker.max_attempts,
                "run_after": self.now + (delay or timedelta()),
                "created_at": self.now,
            }
        )

    def commit(self) -> None:
        """Write the collected rows, then commit everything in one transaction."""
        self.session.flush()
        for entry in audit.rows(self._audit):
            self.insert_at_commit(entry)
        # Plain Core inserts on the session's connection: the ORM's bulk path costs more than
        # the statements themselves, and these rows are never read back in this unit.
        connection = self.session.connection()
        for model, rows in self._rows.items():
            connection.execute(_insert(table_of(model)), rows)
        if self._jobs:
            connection.execute(_insert_jobs(self.postgres), self._jobs)
            if self.postgres:
                connection.execute(sa.text(f"NOTIFY {JOBS_CHANNEL}"))
        self.jobs_queued += len(self._jobs)
        self._audit.clear()
        self._rows.clear()
        self._jobs.clear()
        self.session.commit()
