"""``Database.fetch``: one statement on a kept autocommit connection, outside any transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from ruxue_core.db import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose_here()


def one(conn: sa.Connection) -> int:
    value: int = conn.execute(sa.text("SELECT 1")).scalar_one()
    return value


async def test_fetch_sends_only_its_statement(database: Database) -> None:
    sent: list[str] = []

    def record(conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert await database.fetch(one) == 1
        assert await database.fetch(one) == 1
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert sent == ["SELECT 1", "SELECT 1"]  # no BEGIN, no ROLLBACK, no pool ping


def test_a_thread_keeps_its_connection(database: Database) -> None:
    first = database.fetch_here(lambda conn: conn)
    assert database.fetch_here(lambda conn: conn) is first


def test_an_invalidated_connection_is_replaced(database: Database) -> None:
    broken = database.fetch_here(lambda conn: conn)
    broken.invalidate()
    assert database.fetch_here(one) == 1
    assert database.fetch_here(lambda conn: conn) is not broken


def test_a_disconnect_is_tried_once_more_on_a_new_connection(database: Database) -> None:
    seen: list[sa.Connection] = []

    def flaky(conn: sa.Connection) -> int:
        seen.append(conn)
        if len(seen) == 1:
            conn.invalidate()
            raise sa.exc.DBAPIError(
                "SELECT 1", None, Exception("gone"), connection_invalidated=True
            )
        return one(conn)

    assert database.fetch_here(flaky) == 1
    assert len(seen) == 2 and seen[0] is not seen[1]


def test_other_errors_are_not_retried(database: Database) -> None:
    calls: list[int] = []

    def failing(conn: sa.Connection) -> int:
        calls.append(1)
        conn.execute(sa.text("SELECT * FROM no_such_table"))
        return 0

    with pytest.raises(sa.exc.DBAPIError):
        database.fetch_here(failing)
    assert calls == [1]
    assert database.fetch_here(one) == 1  # the connection is still usable


def test_dispose_closes_kept_connections(database_url: str) -> None:
    db = Database(database_url)
    kept = db.fetch_here(lambda conn: conn)
    db.dispose_here()
    assert kept.closed
