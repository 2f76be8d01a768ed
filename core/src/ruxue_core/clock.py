"""The database's clock, for times that several machines compare (leases, retry times).

Workers on different machines agree on what "expired" means only if they read one clock:
the database's. SQLite runs in-process, so its clock is the machine's; PostgreSQL's is the
server's.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa


def db_now(dialect: str, *, plus_seconds: float = 0.0) -> sa.ColumnElement[datetime]:
    """A SQL expression for the database's current UTC time plus ``plus_seconds``.

    The value has the shape Ruxue stores timestamps in (naive UTC, microseconds).
    """
    if dialect == "postgresql":
        interval = f" + make_interval(secs => {plus_seconds!r})" if plus_seconds else ""
        return sa.literal_column(
            f"((clock_timestamp() AT TIME ZONE 'UTC'){interval})", type_=sa.DateTime
        )
    modifier = f", '{plus_seconds:+.6f} seconds'" if plus_seconds else ""
    return sa.literal_column(
        f"(strftime('%Y-%m-%d %H:%M:%f', 'now'{modifier}) || '000')", type_=sa.DateTime
    )
