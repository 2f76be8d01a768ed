"""鄂汇办 (the Hubei government app): the in-app token as an identity provider.

An H5 page inside the app gets a token from the app's JS bridge (``ehbAppJssdk``) and sends
it as ``Authorization: Bearer <token>``; the provider asks the app's API gateway, with the
district's API key (``X-hbzw-Api-Key``), whom it belongs to. The gateway's service id and
key are issued to the district; the answer's shape is a guess kept in options.

Options (``plugin_options.hubei_ehb``): ``gateway_url``, ``service_id``, ``api_key`` (from
the environment in production), ``levels``, ``timeout``, ``cache_seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import httpx

from ruxue_core import ConfigurationError, Principal, Settings
from ruxue_platform_hubei.common import AnswerCache, credential, guardian, levels_from

NAME: Final = "hubei_ehb"
SANDBOX: Final = "http://127.0.0.1:8703/ehb/gateway"


class EhbIdentityProvider:
    """Guardians inside the 鄂汇办 app."""

    def __init__(
        self,
        *,
        gateway_url: str,
        service_id: str,
        api_key: str,
        levels: Mapping[str, int] | None = None,
        timeout: float = 10.0,
        cache_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.service_id = service_id
        self._api_key = api_key
        self.levels = dict(levels or levels_from({}))
        self.timeout = timeout
        self._cache = AnswerCache(cache_seconds)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EhbIdentityProvider:
        """Build from ``plugin_options.hubei_ehb``.

        :raises ConfigurationError: production without the gateway or its key.
        """
        options = settings.options_for(NAME)
        key = options.get("api_key")
        if not settings.embedded and (key is None or "gateway_url" not in options):
            raise ConfigurationError(
                "生产模式须配置 plugin_options.hubei_ehb 的 gateway_url、service_id，"
                "并通过环境变量 RUXUE_PLUGIN_OPTIONS__HUBEI_EHB__API_KEY 提供密钥"
            )
        return cls(
            gateway_url=str(options.get("gateway_url", SANDBOX)),
            service_id=str(options.get("service_id", "ruxue")),
            api_key=str(key or "sandbox-ehb-key"),
            levels=levels_from(options),
            timeout=float(options.get("timeout", 10.0)),
            cache_seconds=float(options.get("cache_seconds", 60.0)),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        return self._client

    async def authenticate(self, authorization: str) -> Principal | None:
        """The guardian an in-app token belongs to (asked of the app's gateway, cached)."""
        token = credential(authorization)
        if token is None:
            return None
        found, cached = self._cache.get(token)
        if found:
            return cached
        url = f"{self.gateway_url}/{self.service_id}/user/info"
        try:
            response = await self._http().post(
                url, json={"token": token}, headers={"X-hbzw-Api-Key": self._api_key}
            )
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return None  # not cached: the gateway may answer next time
        user = data.get("data") if isinstance(data, dict) and data.get("code") == 200 else None
        principal = (
            guardian(
                subject=user.get("userId"),
                name=user.get("realName"),
                id_number=user.get("idCard"),
                phone=user.get("phone"),
                level=user.get("authLevel"),
                levels=self.levels,
            )
            if isinstance(user, dict)
            else None
        )
        self._cache.put(token, principal)
        return principal

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
