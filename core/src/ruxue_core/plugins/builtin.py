"""Bundled identity providers, registered through the same hooks as third-party plugins.

- ``staff``: staff sessions from ``ruxue_core.services.staff.sign_in`` (password accounts).
- ``guardian``: guardians' sessions opened by a unified-identity login
  (``ruxue_core.services.sessions.open_guardian_session``).
- ``dev``: development tokens from ``ruxue token``; embedded mode only, signed with a random
  key made beside the SQLite file, and expiring.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Final

from ruxue_core import guardian_sessions, keys, staff, tokens
from ruxue_core.domain.enums import Role
from ruxue_core.plugins.contracts import (
    IdentityProvider,
    IdentityProviderRegistration,
    Principal,
)
from ruxue_core.plugins.hookspecs import hookimpl
from ruxue_core.settings import Settings

DEV_PREFIX: Final = "dev."
DEV_AUDIENCE: Final = "ruxue-dev"
DEV_TTL: Final = timedelta(hours=12)


def issue_dev_token(settings: Settings, principal: Principal, *, ttl: timedelta = DEV_TTL) -> str:
    """A signed, expiring development token for ``principal`` (embedded mode only).

    :raises ConfigurationError: outside embedded mode.
    """
    if not settings.embedded:
        from ruxue_core.errors import ConfigurationError

        raise ConfigurationError("开发令牌仅用于嵌入式开发模式")
    claims = {
        "sub": principal.id,
        "role": principal.role.value,
        "name": principal.name,
        "region": principal.region_code,
        "school": principal.school_code,
        "idn": principal.verified_id_number,
    }
    key = keys.load_key(settings, keys.DEV_TOKEN_SECRET)
    token, _ = tokens.issue(key, claims, audience=DEV_AUDIENCE, ttl=ttl)
    return DEV_PREFIX + token


class DevIdentityProvider:
    """Accepts ``Authorization: Bearer dev.<token>`` made by :func:`issue_dev_token`."""

    def __init__(self, settings: Settings) -> None:
        self._key = keys.load_key(settings, keys.DEV_TOKEN_SECRET)

    async def authenticate(self, authorization: str) -> Principal | None:
        """The principal a valid dev token names, or ``None`` for anything else."""
        token = tokens.bearer(authorization)
        if token is None or not token.startswith(DEV_PREFIX):
            return None
        claims = tokens.verify(self._key, token.removeprefix(DEV_PREFIX), audience=DEV_AUDIENCE)
        if claims is None:
            return None
        try:
            return Principal(
                id=str(claims["sub"]),
                role=Role(claims["role"]),
                name=str(claims.get("name") or ""),
                region_code=claims.get("region"),
                school_code=claims.get("school"),
                verified_id_number=claims.get("idn"),
            )
        except (KeyError, TypeError, ValueError):
            return None


class StaffIdentityProvider:
    """Accepts staff session tokens (``Bearer stf.<token>``); the core then checks that the
    account is still active and the session not ended."""

    def __init__(self, settings: Settings) -> None:
        self._key = keys.load_key(settings, keys.SESSION_SECRET)

    async def authenticate(self, authorization: str) -> Principal | None:
        """The staff principal a valid session token names, or ``None``."""
        return staff.principal_from_session(self._key, authorization)


class GuardianSessionIdentityProvider:
    """Accepts guardian session tokens (``Bearer gdn.<token>``); the core then checks that
    the session has not ended and fills in what the login verified."""

    def __init__(self, settings: Settings) -> None:
        self._key = keys.load_key(settings, keys.SESSION_SECRET)

    async def authenticate(self, authorization: str) -> Principal | None:
        """The guardian principal (naming its session) of a valid token, or ``None``."""
        return guardian_sessions.principal_from_token(self._key, authorization)


def _guardian_provider(settings: Settings) -> IdentityProvider:
    return GuardianSessionIdentityProvider(settings)


def _dev_provider(settings: Settings) -> IdentityProvider:
    return DevIdentityProvider(settings)


def _staff_provider(settings: Settings) -> IdentityProvider:
    return StaffIdentityProvider(settings)


@hookimpl
def ruxue_identity_providers(config: Settings) -> Iterable[IdentityProviderRegistration]:
    """Staff and guardian sessions always; development tokens only in embedded mode."""
    registrations = [
        IdentityProviderRegistration(
            staff.PROVIDER,
            _staff_provider,
            "工作人员账号密码登录 (staff accounts)",
            staff.STAFF_ROLES,
        ),
        IdentityProviderRegistration(
            guardian_sessions.PROVIDER,
            _guardian_provider,
            "监护人会话（统一身份认证登录后签发） (guardian sessions)",
            frozenset({Role.GUARDIAN}),
        ),
    ]
    if config.embedded:
        registrations.append(
            IdentityProviderRegistration(
                "dev", _dev_provider, "开发调试令牌 (dev tokens)", frozenset(Role) - {Role.SYSTEM}
            )
        )
    return registrations
