"""Bundled default plugins, registered through the same hooks as third-party ones.

Only the development identity provider lives here: signed dev tokens for ``ruxue token``.
It refuses to load in production mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable

from ruxue_core.domain.enums import Role
from ruxue_core.plugins.contracts import (
    IdentityProvider,
    IdentityProviderRegistration,
    Principal,
)
from ruxue_core.plugins.hookspecs import hookimpl
from ruxue_core.settings import Mode, Settings

_PREFIX = "Bearer dev."


def issue_dev_token(settings: Settings, principal: Principal) -> str:
    """A signed development token for ``principal`` (no expiry; never valid in production)."""
    body = json.dumps(
        {
            "id": principal.id,
            "role": principal.role.value,
            "name": principal.name,
            "region": principal.region_code,
            "school": principal.school_code,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    encoded = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"dev.{encoded}.{_sign(settings, encoded)}"


def _sign(settings: Settings, encoded: str) -> str:
    key = settings.dev_token_secret.get_secret_value().encode()
    return hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()[:32]


class DevIdentityProvider:
    """Accepts ``Authorization: Bearer dev.<payload>.<signature>`` tokens."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def authenticate(self, authorization: str) -> Principal | None:
        """The principal a valid dev token names, or ``None`` for anything else."""
        if not authorization.startswith(_PREFIX):
            return None
        encoded, _, signature = authorization.removeprefix(_PREFIX).partition(".")
        if not hmac.compare_digest(_sign(self._settings, encoded), signature):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            return Principal(
                id=str(data["id"]),
                role=Role(data["role"]),
                name=str(data.get("name") or ""),
                region_code=data.get("region"),
                school_code=data.get("school"),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _dev_provider(settings: Settings) -> IdentityProvider:
    return DevIdentityProvider(settings)


@hookimpl
def ruxue_identity_providers(config: Settings) -> Iterable[IdentityProviderRegistration]:
    """The development token provider, offered only outside production."""
    if config.mode is Mode.PRODUCTION:
        return []
    return [IdentityProviderRegistration("dev", _dev_provider, "开发调试令牌 (dev tokens)")]
