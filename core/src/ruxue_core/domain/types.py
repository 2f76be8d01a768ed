"""Column types shared by the tables: UTC timestamps and enums stored as plain strings."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC without a zone (SQLite keeps none) and always returns aware UTC values."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to naive UTC before storing; naive input is taken to be UTC already."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach UTC to what the database returns."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """A VARCHAR column holding the enum's values (not a native enum: migrations stay simple)."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


@functools.lru_cache(maxsize=32)
def _decoded(text: str) -> Any:
    return json.loads(text)


class SharedJSON(sa.types.TypeDecorator[Any]):
    """JSON read as text and decoded once per distinct stored text (a small bounded cache):
    for large, rarely changed documents read with many rows, such as a season's policy.

    Rows holding the same text share one decoded value, so it is read-only: change it by
    assigning a new value, never in place. A changed text is a new key, decoded afresh.
    """

    impl = sa.JSON
    cache_ok = True

    def column_expression(self, colexpr: Any) -> Any:
        """Select the stored text (PostgreSQL's driver would decode JSON itself)."""
        return sa.type_coerce(sa.cast(colexpr, sa.Text), self)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """Decode the stored text through the cache."""

        def process(value: Any) -> Any:
            return _decoded(value) if isinstance(value, str) else value

        return process
