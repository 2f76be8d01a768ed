"""Staff accounts' mechanisms: argon2id password hashes, signed session tokens, and the check
that a staff session is still current (account active, not signed out since it was issued).

The use cases (sign in, add, disable, reset) are in :mod:`ruxue_core.services.staff`.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import col, select

from ruxue_core import keys, tokens
from ruxue_core.domain import Region, School, StaffAccount
from ruxue_core.domain.enums import Role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.settings import Settings

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime
    from ruxue_core.uow import UnitOfWork

PROVIDER: Final = "staff"
"""The name the staff identity provider registers under."""
TOKEN_PREFIX: Final = "stf."  # noqa: S105 - a token prefix, not a secret
AUDIENCE: Final = "ruxue-staff"
STAFF_ROLES: Final = frozenset(
    {Role.COUNTER_STAFF, Role.SCHOOL_REVIEWER, Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR}
)
CACHE_SECONDS: Final = 2.0
"""How long a session check is reused: a disabled account's sessions end within this."""

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the account does not exist (made once, on first use)."""
    return _hasher.hash(uuid.uuid4().hex)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; parameters stored in the hash)."""
    return _hasher.hash(password)


def password_matches(password: str, password_hash: str | None) -> bool:
    """Check ``password``; with no hash (unknown account) a dummy check keeps timing alike."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class StaffScope:
    """An account as a session carries it."""

    username: str
    name: str
    role: Role
    region_code: str | None
    school_code: str | None
    epoch: int
    active: bool


def load_scope(uow: UnitOfWork, username: str) -> StaffScope | None:
    """The account ``username`` with its township and school codes, in one statement."""
    row = uow.session.exec(
        select(StaffAccount, Region.code, School.code)
        .outerjoin(Region, col(Region.id) == StaffAccount.region_id)
        .outerjoin(School, col(School.id) == StaffAccount.school_id)
        .where(col(StaffAccount.username) == username)
    ).first()
    if row is None:
        return None
    account, region_code, school_code = row
    return StaffScope(
        account.username,
        account.name,
        account.role,
        region_code,
        school_code,
        account.session_epoch,
        account.active,
    )


def issue_session(settings: Settings, scope: StaffScope) -> tuple[str, datetime]:
    """A signed session token for ``scope`` and when it expires."""
    ttl = timedelta(minutes=settings.staff_auth.session_minutes)
    claims = {
        "sub": f"staff:{scope.username}",
        "role": scope.role.value,
        "name": scope.name,
        "region": scope.region_code,
        "school": scope.school_code,
        "epoch": scope.epoch,
        "jti": uuid.uuid4().hex,
    }
    key = keys.load_key(settings, keys.SESSION_SECRET)
    token, expires = tokens.issue(key, claims, audience=AUDIENCE, ttl=ttl)
    return TOKEN_PREFIX + token, expires


def principal_from_session(key: bytes, authorization: str) -> Principal | None:
    """The principal a valid staff session token names (signature and expiry only).

    :param key: the session secret (``keys.SESSION_SECRET``).
    """
    token = tokens.bearer(authorization)
    if token is None or not token.startswith(TOKEN_PREFIX):
        return None
    claims = tokens.verify(key, token.removeprefix(TOKEN_PREFIX), audience=AUDIENCE)
    if claims is None:
        return None
    try:
        return Principal(
            id=str(claims["sub"]),
            role=Role(claims["role"]),
            name=str(claims.get("name") or ""),
            region_code=claims.get("region"),
            school_code=claims.get("school"),
            session_epoch=int(claims["epoch"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class StaffDirectory:
    """Checks that a staff principal's session is still current, with a short cache."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._cache: dict[str, tuple[float, StaffScope | None]] = {}

    async def admit(self, principal: Principal) -> Principal | None:
        """``principal`` if it is not a staff session, or its account is still as issued."""
        if principal.provider != PROVIDER:
            return principal
        username = principal.id.removeprefix("staff:")
        now = time.monotonic()
        cached = self._cache.get(username)
        if cached is None or cached[0] < now:
            scope = await self._runtime.read(lambda uow: load_scope(uow, username))
            cached = (now + CACHE_SECONDS, scope)
            self._cache[username] = cached
        scope = cached[1]
        if scope is None or not scope.active or scope.epoch != principal.session_epoch:
            return None
        return principal

    def forget(self, username: str) -> None:
        """Drop the cached state of ``username`` (after this process changed the account)."""
        self._cache.pop(username, None)
