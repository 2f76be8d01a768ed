"""湖北政务服务网统一身份认证: the portal's ticket flow, as an identity provider.

The browser goes to the portal's login page with the application's code (``appCode``) and a
return URL (``gotoUrl``); after signing in it comes back with a one-time ``ticket``. The
ticket is exchanged, server to server and signed with the application's secret, for an access
token, and the token for the user's verified identity (name, ID number, real-name level,
phone). Only the portal's paths are observed; the exchange's shape is a guess kept in options.

Options (``plugin_options."hubei_portal"``): ``login_url`` (the portal's ``uias_login.do``),
``api_url`` (where ``/uias/api/ticket/validate`` and ``/uias/api/user/info`` live),
``logout_url``, ``app_code``, ``app_secret`` (from the environment in production),
``levels`` (the portal's level codes → 1…4), ``timeout`` and ``cache_seconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from ruxue_core import ConfigurationError, Principal, Settings
from ruxue_platform_hubei.common import AnswerCache, credential, guardian, levels_from

NAME: Final = "hubei_portal"
SANDBOX: Final = "http://127.0.0.1:8703"
DEFAULT_SECRET: Final = "sandbox-portal-secret"  # noqa: S105 - the sandbox's


def portal_sign(secret: str, app_code: str, ticket: str, timestamp: str) -> str:
    """Hex HMAC-SHA256 over appCode + ticket + timestamp (the ticket exchange's signature)."""
    message = (app_code + ticket + timestamp).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PortalIdentityProvider:
    """Guardians signed in at the provincial portal. ``authenticate`` takes
    ``Bearer <portal access token>`` (what :meth:`redeem` returns for a ticket)."""

    def __init__(
        self,
        *,
        login_url: str,
        api_url: str,
        app_code: str,
        app_secret: str,
        logout_url: str | None = None,
        levels: Mapping[str, int] | None = None,
        timeout: float = 10.0,
        cache_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.login_page = login_url
        self.api_url = api_url.rstrip("/")
        self.app_code = app_code
        self._secret = app_secret
        self.logout_page = logout_url
        self.levels = dict(levels or levels_from({}))
        self.timeout = timeout
        self._cache = AnswerCache(cache_seconds)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PortalIdentityProvider:
        """Build from ``plugin_options."hubei_portal"``.

        :raises ConfigurationError: production without the portal's URLs or secret.
        """
        options = settings.options_for(NAME)
        secret = options.get("app_secret")
        if not settings.embedded and (secret is None or "api_url" not in options):
            raise ConfigurationError(
                "生产模式须配置 plugin_options.hubei_portal 的 api_url、login_url，并通过环境变量 "
                "RUXUE_PLUGIN_OPTIONS__HUBEI_PORTAL__APP_SECRET 提供密钥"
            )
        api = str(options.get("api_url", SANDBOX))
        return cls(
            login_url=str(options.get("login_url", f"{api}/web/user/uias_login.do")),
            api_url=api,
            app_code=str(options.get("app_code", "ruxue-sandbox")),
            app_secret=str(secret or DEFAULT_SECRET),
            logout_url=options.get("logout_url", f"{api}/web/user/logout.do"),
            levels=levels_from(options),
            timeout=float(options.get("timeout", 10.0)),
            cache_seconds=float(options.get("cache_seconds", 60.0)),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        return self._client

    async def _call(self, path: str, **kwargs: Any) -> dict[str, Any] | None:
        """POST to the portal's API; ``None`` on any failure or a non-zero ``code``."""
        try:
            response = await self._http().post(f"{self.api_url}{path}", **kwargs)
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(data, dict) or str(data.get("code")) != "0":
            return None
        inner = data.get("data")
        return inner if isinstance(inner, dict) else None

    # -- the redirect flow -------------------------------------------------------------------

    async def login_url(self, callback_url: str, state: str) -> str:
        """The portal's login page; it returns to ``callback_url`` (carrying ``state``)."""
        back = f"{callback_url}?{urlencode({'state': state})}"
        return f"{self.login_page}?{urlencode({'appCode': self.app_code, 'gotoUrl': back})}"

    async def redeem(self, params: Mapping[str, str], callback_url: str) -> str | None:
        """Exchange the callback's ``ticket`` for the portal's access token."""
        ticket = params.get("ticket", "")
        if not (8 <= len(ticket) <= 256) or not ticket.isascii():
            return None
        stamp = str(int(time.time()))
        body = {
            "appCode": self.app_code,
            "ticket": ticket,
            "timestamp": stamp,
            "sign": portal_sign(self._secret, self.app_code, ticket, stamp),
        }
        data = await self._call("/uias/api/ticket/validate", json=body)
        token = data.get("accessToken") if data else None
        return f"Bearer {token}" if isinstance(token, str) and token else None

    def logout_url(self, return_url: str) -> str | None:
        """The portal's logout page, returning to ``return_url``."""
        if not self.logout_page:
            return None
        return f"{self.logout_page}?{urlencode({'gotoUrl': return_url})}"

    # -- per credential ----------------------------------------------------------------------

    async def authenticate(self, authorization: str) -> Principal | None:
        """The guardian a portal access token belongs to (asked of the portal, cached)."""
        token = credential(authorization)
        if token is None:
            return None
        found, cached = self._cache.get(token)
        if found:
            return cached
        data = await self._call("/uias/api/user/info", headers={"Authorization": f"Bearer {token}"})
        principal = (
            guardian(
                subject=data.get("userId"),
                name=data.get("userName"),
                id_number=data.get("certNo"),
                id_type=data.get("certType"),
                phone=data.get("mobile"),
                level=data.get("authLevel"),
                levels=self.levels,
            )
            if data
            else None
        )
        self._cache.put(token, principal)
        return principal

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
