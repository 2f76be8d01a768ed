"""Signed, expiring bearer tokens (JWT, HS256) for staff sessions and development logins.

Each kind of token has its own key and audience, and a short prefix so that an identity
provider can tell at a glance whether a token is its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

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


_VERIFIED: Final[OrderedDict[tuple[bytes, str, str], Mapping[str, Any]]] = OrderedDict()
_VERIFIED_MAX: Final = 4096


def verify(key: bytes, token: str, *, audience: str) -> Mapping[str, Any] | None:
    """The claims of a valid, unexpired token for ``audience``; ``None`` for anything else.

    A token verified once is remembered (until it expires): a client sends the same bearer
    token with every request, and checking its signature again each time is wasted work.
    """
    remembered = _VERIFIED.get((key, token, audience))
    if remembered is not None:
        if remembered["exp"] > time.time():
            return remembered
        _VERIFIED.pop((key, token, audience), None)
    claims = _decode(key, token, audience)
    if claims is not None:
        _VERIFIED[(key, token, audience)] = claims
        if len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return claims


def _decode(key: bytes, token: str, audience: str) -> Mapping[str, Any] | None:
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
