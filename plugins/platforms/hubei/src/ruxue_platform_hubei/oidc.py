"""A generic OpenID Connect identity provider (authorization-code flow; ID tokens verified
against the issuer's JWKS with joserfc).

``authenticate`` takes ``Bearer <ID token>`` (a JWT the issuer signed for this client):
signature by a key of the issuer's JWKS (fetched through discovery, refreshed when an unknown
key id appears, at most once a minute), issuer, audience, expiry. The verified person's claims
are configurable because a provincial IdP names them its own way.

Options (``plugin_options.hubei_oidc``): ``issuer`` (discovery at
``<issuer>/.well-known/openid-configuration``), ``client_id``, ``client_secret`` (from the
environment in production), ``scope`` (default ``openid profile``), ``claims`` (which claim
holds ``name``, ``id_number``, ``phone``, ``level`` and ``id_type``), ``levels``,
``algorithms`` (default RS256 and ES256), ``leeway`` seconds, ``timeout``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ruxue_core import ConfigurationError, Principal, Settings, TemporaryPluginError
from ruxue_platform_hubei.common import credential, guardian, levels_from

NAME: Final = "hubei_oidc"
SANDBOX_ISSUER: Final = "http://127.0.0.1:8703/oidc"
DEFAULT_CLAIMS: Final[Mapping[str, str]] = {
    "name": "name",
    "id_number": "cert_no",
    "phone": "phone_number",
    "level": "auth_level",
    "id_type": "",
}
REFRESH_SECONDS: Final = 60.0


def nonce_for(state: str) -> str:
    """The nonce bound to a sign-in's ``state`` (checked when the code is redeemed)."""
    return hashlib.sha256(f"ruxue-nonce:{state}".encode()).hexdigest()[:32]


class OidcIdentityProvider:
    """Guardians signed in at an OpenID Connect provider."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        scope: str = "openid profile",
        claims: Mapping[str, str] | None = None,
        levels: Mapping[str, int] | None = None,
        algorithms: tuple[str, ...] = ("RS256", "ES256"),
        leeway: int = 30,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.claims = {**DEFAULT_CLAIMS, **(claims or {})}
        self.levels = dict(levels or levels_from({}))
        self.algorithms = algorithms
        self.leeway = leeway
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._discovery: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcIdentityProvider:
        """Build from ``plugin_options.hubei_oidc``.

        :raises ConfigurationError: production without issuer, client or secret.
        """
        options = settings.options_for(NAME)
        secret = options.get("client_secret")
        if not settings.embedded and (secret is None or "issuer" not in options):
            raise ConfigurationError(
                "生产模式须配置 plugin_options.hubei_oidc 的 issuer、client_id，并通过环境变量 "
                "RUXUE_PLUGIN_OPTIONS__HUBEI_OIDC__CLIENT_SECRET 提供密钥"
            )
        return cls(
            issuer=str(options.get("issuer", SANDBOX_ISSUER)),
            client_id=str(options.get("client_id", "ruxue-sandbox")),
            client_secret=str(secret or "sandbox-oidc-secret"),
            scope=str(options.get("scope", "openid profile")),
            claims=dict(options.get("claims") or {}),
            levels=levels_from(options),
            algorithms=tuple(options.get("algorithms") or ("RS256", "ES256")),
            leeway=int(options.get("leeway", 30)),
            timeout=float(options.get("timeout", 10.0)),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        return self._client

    async def _metadata(self) -> dict[str, Any] | None:
        if self._discovery is None:
            try:
                response = await self._http().get(f"{self.issuer}/.well-known/openid-configuration")
                data = response.json()
            except (httpx.HTTPError, ValueError):
                return None
            if not isinstance(data, dict) or data.get("issuer") != self.issuer:
                return None
            self._discovery = data
        return self._discovery

    async def _key_set(self, *, refresh: bool = False) -> KeySet | None:
        stale = time.monotonic() - self._keys_at > REFRESH_SECONDS
        if self._keys is None or (refresh and stale):
            metadata = await self._metadata()
            if metadata is None:
                return self._keys
            try:
                response = await self._http().get(str(metadata["jwks_uri"]))
                self._keys = KeySet.import_key_set(response.json())
                self._keys_at = time.monotonic()
            except (httpx.HTTPError, ValueError, KeyError, JoseError):
                return self._keys
        return self._keys

    async def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of an ID token this issuer signed for this client, or ``None``."""
        keys = await self._key_set()
        if keys is None:
            return None
        try:
            try:
                decoded = jwt.decode(token, keys, algorithms=list(self.algorithms))
            except JoseError:
                fresh = await self._key_set(refresh=True)  # a rotated key, perhaps
                if fresh is None or fresh is keys:
                    return None
                decoded = jwt.decode(token, fresh, algorithms=list(self.algorithms))
            registry = jwt.JWTClaimsRegistry(
                leeway=self.leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                sub={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        return dict(decoded.claims)

    # -- the redirect flow -------------------------------------------------------------------

    async def login_url(self, callback_url: str, state: str) -> str:
        """The authorization endpoint (from discovery) for a code-flow sign-in returning to
        ``callback_url``.

        :raises TemporaryPluginError: the issuer's discovery document is unavailable.
        """
        metadata = await self._metadata()
        if metadata is None or "authorization_endpoint" not in metadata:
            raise TemporaryPluginError("统一身份认证（OpenID Connect）发现文档不可用")
        endpoint = str(metadata["authorization_endpoint"])
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": callback_url,
            "scope": self.scope,
            "state": state,
            "nonce": nonce_for(state),
        }
        return f"{endpoint}?{urlencode(query)}"

    async def redeem(self, params: Mapping[str, str], callback_url: str) -> str | None:
        """Exchange the callback's ``code`` for an ID token (checking the nonce)."""
        code, state = params.get("code", ""), params.get("state", "")
        metadata = await self._metadata()
        if not code or len(code) > 512 or metadata is None:
            return None
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback_url,
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        try:
            response = await self._http().post(str(metadata["token_endpoint"]), data=form)
            token = response.json().get("id_token")
        except (httpx.HTTPError, ValueError, KeyError, AttributeError):
            return None
        if not isinstance(token, str):
            return None
        claims = await self.verify(token)
        if claims is None or claims.get("nonce") != nonce_for(state):
            return None
        return f"Bearer {token}"

    def logout_url(self, return_url: str) -> str | None:
        """The issuer's end-session endpoint, if it has one."""
        endpoint = (self._discovery or {}).get("end_session_endpoint")
        if not endpoint:
            return None
        return f"{endpoint}?{urlencode({'post_logout_redirect_uri': return_url})}"

    # -- per credential ----------------------------------------------------------------------

    async def authenticate(self, authorization: str) -> Principal | None:
        """The guardian an ID token names (verified locally against the JWKS)."""
        token = credential(authorization)
        if token is None or token.count(".") != 2:
            return None
        claims = await self.verify(token)
        if claims is None:
            return None
        names = self.claims
        return guardian(
            subject=claims.get("sub"),
            name=claims.get(names["name"]),
            id_number=claims.get(names["id_number"]),
            id_type=claims.get(names["id_type"], "111") if names["id_type"] else "111",
            phone=claims.get(names["phone"]),
            level=claims.get(names["level"]),
            levels=self.levels,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
