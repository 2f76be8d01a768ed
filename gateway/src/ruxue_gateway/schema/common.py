"""Small helpers shared by resolvers."""

from __future__ import annotations

from typing import Final

import strawberry

from ruxue_core.errors import InvalidInput

MAX_ID: Final = 2**31 - 1
"""Record ids are 32-bit ``INTEGER`` keys; PostgreSQL refuses a larger bound value outright."""


def parse_id(value: strawberry.ID, field: str) -> int:
    """A numeric record id from a GraphQL ``ID``, or ``InvalidInput`` naming ``field``."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) > MAX_ID:
        raise InvalidInput("编号格式不正确", field=field)
    return int(text)
