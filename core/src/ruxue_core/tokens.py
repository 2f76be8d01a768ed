"""Signed, expiring bearer tokens (JWT, HS256) for staff sessions and development logins.

Each kind of token has its own key and audience, and a short prefix so that an identity
provider can tell at a glance whether a token is its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

from ruxue_core.domain.types import utcnow

ALGORITHM = "HS256"


def issue(
    key: bytes, claims: dict[str, Any], *, audience: str, ttl: timedelta
) -> tuple[str, datetime]:
    """A signed token carrying ``claims``, valid for ``ttl`` from now, and its expiry."""
    now = utcnow()
    expires = now + ttl
    payload = {**claims, "aud": audience, "iat": now, "exp": expires}
    return jwt.encode(payload, key, algorithm=ALGORITHM), expires


def verify(key: bytes, token: str, *, audience: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token for ``audience``; ``None`` for anything else."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "iat", "aud", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    return claims


def bearer(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value; ``None`` otherwise."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
