"""Small helpers shared by resolvers."""

from __future__ import annotations

import strawberry

from ruxue_core.errors import InvalidInput


def parse_id(value: strawberry.ID, field: str) -> int:
    """A numeric record id from a GraphQL ``ID``, or ``InvalidInput`` naming ``field``."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InvalidInput("编号格式不正确", field=field)
    return int(text)
