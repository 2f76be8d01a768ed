"""Relay cursor pagination: ``PageInfo`` and opaque cursors.

A cursor is the base64url of ``<kind>:<id>``: opaque to clients, checked on the way back in
(a cursor of another kind, or garbage, is ``InvalidInput`` on ``after``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

import strawberry

from ruxue_core.errors import InvalidInput
from ruxue_gateway.schema.common import MAX_ID

MAX_CURSOR: Final = 64


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    """Forward pagination: pass ``endCursor`` as ``after`` while ``hasNextPage``."""

    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def encode_cursor(kind: str, record_id: int) -> str:
    """The opaque cursor of one record in a list of ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{record_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None, *, field: str = "after") -> int | None:
    """The record id inside ``cursor`` (``None`` for no cursor).

    :raises InvalidInput: not a cursor of this list.
    """
    if cursor is None:
        return None
    invalid = InvalidInput("分页游标无效", field=field)
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise invalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isdigit() or len(number) > 10 or int(number) > MAX_ID:
        raise invalid
    return int(number)


def page_info(cursors: list[str], *, has_next_page: bool) -> PageInfo:
    """The page info of a forward page with these item cursors."""
    return PageInfo(
        has_next_page=has_next_page,
        has_previous_page=False,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
