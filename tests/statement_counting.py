"""Counting the SQL statements and transactions a piece of work sends, on the runtime's engine.

``BEGIN`` is left out of the statement counts (SQLite's engine sends ``BEGIN [IMMEDIATE]``
itself; PostgreSQL's driver begins implicitly), so one budget holds on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from ruxue_core.runtime import Runtime


@dataclass
class Counted:
    """What the engine sent while counting."""

    sql: list[str] = field(default_factory=list)
    units: int = 0

    @property
    def statements(self) -> list[str]:
        """Every statement but ``BEGIN``."""
        return [s for s in self.sql if not s.lstrip().upper().startswith("BEGIN")]


@contextmanager
def counting(runtime: Runtime) -> Iterator[Counted]:
    """Count statements and transactions on the runtime's engine."""
    counted = Counted()
    engine = runtime.db.engine

    def on_execute(
        conn: sa.Connection, cursor: Any, statement: str, *args: Any, **kwargs: Any
    ) -> None:
        counted.sql.append(statement)

    def on_begin(conn: sa.Connection) -> None:
        counted.units += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
