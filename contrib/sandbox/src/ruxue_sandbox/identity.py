"""A fake unified identity provider: the provincial portal's ticket flow (政务服务网统一身份认证),
an OpenID Connect provider, and the 鄂汇办 app's in-app tokens, over one user directory.

Portal (paths as observed on the real portal; the exchange is a plausible guess):

- ``GET /web/user/uias_login.do?appCode=…&gotoUrl=…`` shows a sign-in form; ``POST`` it
  (``username``, ``password``, ``appCode``, ``gotoUrl``) and the browser is sent to
  ``gotoUrl`` with ``ticket=ST-…`` (one use, one minute).
- ``POST /uias/api/ticket/validate`` ``{appCode, ticket, timestamp, sign}`` with ``sign`` =
  hex HMAC-SHA256(app secret, appCode + ticket + timestamp) →
  ``{"code": "0", "data": {"accessToken", "expiresIn"}}``.
- ``POST /uias/api/user/info`` with ``Authorization: Bearer <accessToken>`` →
  ``{"code": "0", "data": {"userId", "userName", "certType", "certNo", "authLevel",
  "mobile"}}``.
- ``GET /web/user/logout.do?gotoUrl=…`` ends the portal session.

OpenID Connect (issuer ``<base>/oidc``): discovery, ``/oidc/jwks`` (RS256), an authorize
form that redirects with ``code`` and ``state``, ``/oidc/token`` (client secret, post or
basic) returning an ID token with ``name``, ``cert_no``, ``phone_number``, ``auth_level`` and
the ``nonce``, and ``/oidc/userinfo``. :meth:`FakeIdentityProvider.id_token` mints one
directly, for tests.

鄂汇办: :meth:`FakeIdentityProvider.app_token` (or ``POST /ehb/admin/tokens``) hands out the
token the app's JS bridge gives an H5 page; ``POST /ehb/gateway/{service}/user/info`` with
``X-hbzw-Api-Key`` and ``{"token"}`` answers the user (``{"code": 200, "data": {…}}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

DEFAULT_APP_CODE: Final = "ruxue-sandbox"
DEFAULT_APP_SECRET: Final = "sandbox-portal-secret"
DEFAULT_CLIENT_ID: Final = "ruxue-sandbox"
DEFAULT_CLIENT_SECRET: Final = "sandbox-oidc-secret"
DEFAULT_EHB_API_KEY: Final = "sandbox-ehb-key"
TICKET_SECONDS: Final = 60.0
TOKEN_SECONDS: Final = 600.0


@dataclass(frozen=True, slots=True)
class IdpUser:
    """A person with a real-name verified account (实名认证).

    :ivar level: the provider's own real-name level code (``L1``…``L4``).
    """

    username: str
    password: str
    user_id: str
    name: str
    id_number: str
    phone: str
    level: str = "L3"


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class FakeIdentityProvider:
    """The directory, the issued tickets, codes and tokens; safe to change while serving."""

    def __init__(
        self,
        *,
        app_code: str = DEFAULT_APP_CODE,
        app_secret: str = DEFAULT_APP_SECRET,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        ehb_api_key: str = DEFAULT_EHB_API_KEY,
    ) -> None:
        self.app_code = app_code
        self.app_secret = app_secret
        self.client_id = client_id
        self.client_secret = client_secret
        self.ehb_api_key = ehb_api_key
        self.issuer = ""  # set when served: <base>/oidc
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": secrets.token_hex(4), "use": "sig", "alg": "RS256"}
        )
        self._lock = threading.Lock()
        self._users: dict[str, IdpUser] = {}
        self._tickets: dict[str, tuple[str, float]] = {}
        self._codes: dict[str, tuple[str, str, str, float]] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._app_tokens: dict[str, tuple[str, float]] = {}
        self.exchanges = 0
        """Ticket, code and app-token exchanges served (tests count calls)."""

    # -- directory ---------------------------------------------------------------------------

    def add(self, *users: IdpUser) -> None:
        """Add or replace users (by username)."""
        with self._lock:
            for user in users:
                self._users[user.username] = user

    def user(self, username: str) -> IdpUser | None:
        """The user named ``username``."""
        with self._lock:
            return self._users.get(username)

    def _check(self, username: str, password: str) -> IdpUser | None:
        user = self.user(username)
        if user is None or not hmac.compare_digest(user.password, password):
            return None
        return user

    # -- issuing -----------------------------------------------------------------------------

    def _issue(
        self, store: dict[str, tuple[str, float]], prefix: str, username: str, ttl: float
    ) -> str:
        value = prefix + secrets.token_urlsafe(24)
        with self._lock:
            store[value] = (username, time.monotonic() + ttl)
        return value

    def _redeem(
        self, store: dict[str, tuple[str, float]], value: str, *, once: bool
    ) -> IdpUser | None:
        with self._lock:
            found = store.pop(value, None) if once else store.get(value)
            self.exchanges += 1
        if found is None or found[1] < time.monotonic():
            return None
        return self.user(found[0])

    def ticket(self, username: str) -> str:
        """A portal ticket for ``username`` (as the sign-in form issues one)."""
        return self._issue(self._tickets, "ST-", username, TICKET_SECONDS)

    def app_token(self, username: str) -> str:
        """A 鄂汇办 in-app token for ``username`` (what the app's JS bridge hands the page)."""
        return self._issue(self._app_tokens, "EHB-", username, TOKEN_SECONDS)

    def claims(self, user: IdpUser) -> dict[str, Any]:
        """The OpenID Connect claims of ``user``."""
        return {
            "sub": user.user_id,
            "name": user.name,
            "cert_no": user.id_number,
            "phone_number": user.phone,
            "auth_level": user.level,
        }

    def id_token(
        self,
        username: str,
        *,
        audience: str | None = None,
        nonce: str | None = None,
        ttl: float = 600,
    ) -> str:
        """A signed ID token for ``username`` (RS256, this provider's key)."""
        user = self.user(username)
        if user is None:
            raise KeyError(username)
        now = int(time.time())
        claims = self.claims(user) | {
            "iss": self.issuer,
            "aud": audience or self.client_id,
            "iat": now,
            "exp": now + int(ttl),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"alg": "RS256", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key)

    def jwks(self) -> dict[str, Any]:
        """The public keys (JWKS)."""
        return dict(KeySet([self.key]).as_dict(private=False))


def portal_sign(secret: str, app_code: str, ticket: str, timestamp: str) -> str:
    """The ticket-validation signature: hex HMAC-SHA256 over appCode + ticket + timestamp."""
    message = (app_code + ticket + timestamp).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


_FORM: Final = """<!doctype html><meta charset="utf-8"><title>{title}</title>
<h1>{title}（沙箱）</h1><form method="post" action="{action}">
{hidden}<label>用户名 <input name="username"></label>
<label>密码 <input name="password" type="password"></label><button>登录</button></form>"""


def _form(title: str, action: str, hidden: dict[str, str]) -> HTMLResponse:
    """The sign-in form; ``action`` is relative, so the provider also works mounted under a
    prefix (``ruxue serve`` mounts it at ``/sandbox/idp``)."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in hidden.items()
    )
    return HTMLResponse(_FORM.format(title=title, action=html.escape(action), hidden=fields))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": str(status), "msg": message}, status_code=status)


def create_identity_app(idp: FakeIdentityProvider) -> Starlette:
    """A Starlette app serving ``idp``; it learns its own base URL from the first request."""

    def learn(request: Request) -> None:
        if not idp.issuer:
            idp.issuer = str(request.base_url).rstrip("/") + "/oidc"

    # -- portal ------------------------------------------------------------------------------

    async def portal_login(request: Request) -> Response:
        learn(request)
        if request.method == "GET":
            params = dict(request.query_params)
            if params.get("appCode") != idp.app_code or not params.get("gotoUrl"):
                return _error(400, "appCode 或 gotoUrl 无效")
            return _form("湖北政务服务网统一身份认证", "uias_login.do", params)
        form = await request.form()
        values = {k: str(v) for k, v in form.items()}
        if values.get("appCode") != idp.app_code or not values.get("gotoUrl"):
            return _error(400, "appCode 或 gotoUrl 无效")
        user = idp._check(values.get("username", ""), values.get("password", ""))
        if user is None:
            return _error(401, "用户名或密码错误")
        ticket = idp.ticket(user.username)
        return RedirectResponse(_with_query(values["gotoUrl"], ticket=ticket), status_code=302)

    async def portal_validate(request: Request) -> Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"code": "40000", "msg": "请求格式错误"})
        code, ticket = str(body.get("appCode", "")), str(body.get("ticket", ""))
        stamp, given = str(body.get("timestamp", "")), str(body.get("sign", ""))
        expected = portal_sign(idp.app_secret, idp.app_code, ticket, stamp)
        if code != idp.app_code or not hmac.compare_digest(expected, given):
            return JSONResponse({"code": "40003", "msg": "签名无效"})
        user = idp._redeem(idp._tickets, ticket, once=True)
        if user is None:
            return JSONResponse({"code": "40001", "msg": "票据无效或已使用"})
        token = idp._issue(idp._tokens, "AT-", user.username, TOKEN_SECONDS)
        return JSONResponse(
            {"code": "0", "data": {"accessToken": token, "expiresIn": int(TOKEN_SECONDS)}}
        )

    async def portal_user(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = idp._redeem(idp._tokens, token.strip(), once=False) if scheme == "Bearer" else None
        if user is None:
            return JSONResponse({"code": "40101", "msg": "令牌无效或已过期"})
        return JSONResponse(
            {
                "code": "0",
                "data": {
                    "userId": user.user_id,
                    "userName": user.name,
                    "certType": "111",
                    "certNo": user.id_number,
                    "authLevel": user.level,
                    "mobile": user.phone,
                },
            }
        )

    async def portal_logout(request: Request) -> Response:
        target = request.query_params.get("gotoUrl")
        if target:
            return RedirectResponse(target, status_code=302)
        return HTMLResponse("已退出")

    # -- OpenID Connect ----------------------------------------------------------------------

    async def discovery(request: Request) -> Response:
        learn(request)
        base = idp.issuer
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "userinfo_endpoint": f"{base}/userinfo",
                "jwks_uri": f"{base}/jwks",
                "end_session_endpoint": f"{base}/logout",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
            }
        )

    async def jwks(_request: Request) -> Response:
        return JSONResponse(idp.jwks())

    async def authorize(request: Request) -> Response:
        learn(request)
        if request.method == "GET":
            params = dict(request.query_params)
            if params.get("client_id") != idp.client_id or params.get("response_type") != "code":
                return _error(400, "client_id 或 response_type 无效")
            return _form("统一身份认证（OpenID Connect）", "authorize", params)
        values = {k: str(v) for k, v in (await request.form()).items()}
        if values.get("client_id") != idp.client_id or not values.get("redirect_uri"):
            return _error(400, "client_id 或 redirect_uri 无效")
        user = idp._check(values.get("username", ""), values.get("password", ""))
        if user is None:
            return _error(401, "用户名或密码错误")
        code = secrets.token_urlsafe(24)
        with idp._lock:
            idp._codes[code] = (
                user.username,
                values["redirect_uri"],
                values.get("nonce", ""),
                time.monotonic() + TICKET_SECONDS,
            )
        target = _with_query(values["redirect_uri"], code=code, state=values.get("state", ""))
        return RedirectResponse(target, status_code=302)

    def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                return "", ""
            client, _, secret = decoded.partition(":")
            return client, secret
        return form.get("client_id", ""), form.get("client_secret", "")

    async def token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client, secret = _client(request, form)
        if client != idp.client_id or not hmac.compare_digest(secret, idp.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        with idp._lock:
            found = idp._codes.pop(form.get("code", ""), None)
            idp.exchanges += 1
        if found is None or found[3] < time.monotonic() or found[1] != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        username, _, nonce, _ = found
        access = idp._issue(idp._tokens, "AT-", username, TOKEN_SECONDS)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(TOKEN_SECONDS),
                "id_token": idp.id_token(username, nonce=nonce or None),
            }
        )

    async def userinfo(request: Request) -> Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        user = idp._redeem(idp._tokens, value.strip(), once=False) if scheme == "Bearer" else None
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(idp.claims(user))

    # -- 鄂汇办 --------------------------------------------------------------------------------

    async def ehb_user(request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get("x-hbzw-api-key", ""), idp.ehb_api_key):
            return JSONResponse({"code": 401, "msg": "API Key 无效"}, status_code=401)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        value = body.get("token") if isinstance(body, dict) else None
        user = idp._redeem(idp._app_tokens, value, once=False) if isinstance(value, str) else None
        if user is None:
            return JSONResponse({"code": 4011, "msg": "登录已失效"})
        return JSONResponse(
            {
                "code": 200,
                "data": {
                    "userId": user.user_id,
                    "realName": user.name,
                    "idCard": user.id_number,
                    "phone": user.phone,
                    "authLevel": user.level,
                },
            }
        )

    async def ehb_issue(request: Request) -> Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        username = body.get("username") if isinstance(body, dict) else None
        if not isinstance(username, str) or idp.user(username) is None:
            return _error(400, "用户不存在")
        return JSONResponse({"token": idp.app_token(username)})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/web/user/uias_login.do", portal_login, methods=["GET", "POST"]),
            Route("/web/user/logout.do", portal_logout, methods=["GET"]),
            Route("/uias/api/ticket/validate", portal_validate, methods=["POST"]),
            Route("/uias/api/user/info", portal_user, methods=["POST"]),
            Route("/oidc/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/oidc/jwks", jwks, methods=["GET"]),
            Route("/oidc/authorize", authorize, methods=["GET", "POST"]),
            Route("/oidc/token", token, methods=["POST"]),
            Route("/oidc/userinfo", userinfo, methods=["GET"]),
            Route("/ehb/gateway/{service}/user/info", ehb_user, methods=["POST"]),
            Route("/ehb/admin/tokens", ehb_issue, methods=["POST"]),
        ]
    )
