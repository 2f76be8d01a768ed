"""Guardians' sessions: a unified-identity login becomes a short-lived, signed, revocable
Ruxue session.

A login provider (the provincial portal, OpenID Connect, the 鄂汇办 app) vouches for a
guardian once; the core then keeps what the session needs in a ``guardian_session`` row (the
verified name, ID number and phone encrypted, the real-name level) and hands out a token
``gdn.<JWT>`` that carries only the session's id, the provider's subject and its expiry.
Each request's token is checked against its row (cached for a couple of seconds), so
signing out ends the session everywhere. The sign-in's ``state`` (against login CSRF) is a
signed, expiring token too.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlmodel import col, select

from ruxue_core import keys, tokens
from ruxue_core.domain import GuardianSession
from ruxue_core.domain.enums import Role
from ruxue_core.domain.types import utcnow
from ruxue_core.plugins.contracts import Principal
from ruxue_core.settings import Settings

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime
    from ruxue_core.uow import UnitOfWork

PROVIDER: Final = "guardian"
"""The name the guardian-session identity provider registers under."""
TOKEN_PREFIX: Final = "gdn."  # noqa: S105 - a token prefix, not a secret
AUDIENCE: Final = "ruxue-guardian"
STATE_AUDIENCE: Final = "ruxue-login-state"
STATE_SECONDS: Final = 600
CACHE_SECONDS: Final = 2.0
"""How long a session check is reused: a session ended elsewhere stops within this."""


def new_session_id() -> str:
    """A random session id (128 bits, hex)."""
    return secrets.token_hex(16)


def issue_token(settings: Settings, session_id: str, subject: str, expires: datetime) -> str:
    """The signed token for session ``session_id`` (``gdn.`` prefix)."""
    key = keys.load_key(settings, keys.SESSION_SECRET)
    ttl = expires - utcnow()
    token, _ = tokens.issue(key, {"sub": subject, "sid": session_id}, audience=AUDIENCE, ttl=ttl)
    return TOKEN_PREFIX + token


def principal_from_token(key: bytes, authorization: str) -> Principal | None:
    """A guardian principal naming its session, for a valid unexpired token (signature and
    expiry only: :class:`GuardianSessions` then checks the session itself)."""
    token = tokens.bearer(authorization)
    if token is None or not token.startswith(TOKEN_PREFIX):
        return None
    claims = tokens.verify(key, token.removeprefix(TOKEN_PREFIX), audience=AUDIENCE)
    if claims is None or not isinstance(claims.get("sid"), str):
        return None
    return Principal(id=str(claims["sub"]), role=Role.GUARDIAN, session_id=claims["sid"])


def issue_state(settings: Settings, data: dict[str, Any]) -> str:
    """A signed, ten-minute ``state`` for a browser sign-in carrying ``data``."""
    key = keys.load_key(settings, keys.SESSION_SECRET)
    claims = {"sub": "login", **data}
    token, _ = tokens.issue(
        key, claims, audience=STATE_AUDIENCE, ttl=timedelta(seconds=STATE_SECONDS)
    )
    return token


def verify_state(settings: Settings, state: str) -> dict[str, Any] | None:
    """The data of a valid, unexpired ``state``; ``None`` otherwise."""
    key = keys.load_key(settings, keys.SESSION_SECRET)
    claims = tokens.verify(key, state, audience=STATE_AUDIENCE)
    return dict(claims) if claims is not None else None


@dataclass(frozen=True, slots=True)
class SessionScope:
    """What a live session vouches for (decrypted)."""

    provider: str
    subject: str
    name: str
    id_number: str
    phone: str | None
    assurance_level: int
    expires_at: datetime

    def principal(self, session_id: str) -> Principal:
        """The guardian principal this session stands for."""
        return Principal(
            id=self.subject,
            role=Role.GUARDIAN,
            name=self.name,
            verified_id_number=self.id_number,
            provider=self.provider,
            assurance_level=self.assurance_level,
            verified_phone=self.phone,
            session_id=session_id,
        )


def load_scope(uow: UnitOfWork, session_id: str) -> SessionScope | None:
    """The live session ``session_id`` (not ended, not expired), decrypted; else ``None``."""
    row = uow.session.exec(
        select(GuardianSession).where(
            col(GuardianSession.id) == session_id,
            col(GuardianSession.ended_at).is_(None),
            col(GuardianSession.expires_at) > uow.now,
        )
    ).first()
    if row is None:
        return None
    cipher = uow.cipher
    return SessionScope(
        provider=row.provider,
        subject=row.subject,
        name=row.name,
        id_number=cipher.decrypt(row.id_number_ct, purpose="guardian_session.id_number"),
        phone=cipher.decrypt(row.phone_ct, purpose="guardian_session.phone")
        if row.phone_ct is not None
        else None,
        assurance_level=row.assurance_level,
        expires_at=row.expires_at,
    )


class GuardianSessions:
    """Admits a guardian-session principal only while its session lives (short cache)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._cache: dict[str, tuple[float, SessionScope | None]] = {}

    async def admit(self, principal: Principal) -> Principal | None:
        """``principal`` unchanged if not a guardian session; else the session's principal,
        or ``None`` when the session ended, expired or names another subject."""
        if principal.provider != PROVIDER:
            return principal
        session_id = principal.session_id
        if session_id is None:
            return None
        now = time.monotonic()
        cached = self._cache.get(session_id)
        if cached is None or cached[0] < now:
            scope = await self._runtime.read(lambda uow: load_scope(uow, session_id))
            if len(self._cache) > 10_000:
                self._cache.clear()
            cached = (now + CACHE_SECONDS, scope)
            self._cache[session_id] = cached
        scope = cached[1]
        if scope is None or scope.subject != principal.id or scope.expires_at <= utcnow():
            return None
        return scope.principal(session_id)

    def forget(self, session_id: str) -> None:
        """Drop the cached state of a session (after this process ended it)."""
        self._cache.pop(session_id, None)
