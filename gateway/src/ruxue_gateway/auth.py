"""Guardians' sign-in routes: a unified-identity login becomes a short-lived Ruxue session.

- ``GET /auth/providers``: the configured login providers (``guardian_auth.login_providers``).
- ``GET /auth/{name}/login?return_to=…``: sends the browser to the provider's sign-in page
  (the portal's ``uias_login.do`` with the application's code, or an OpenID Connect
  authorization endpoint) with a signed ``state``; a cookie ties the state to this browser.
- ``GET /auth/{name}/callback``: the provider sends the browser back with a ticket or code;
  it is redeemed server to server, the person's verified identity checked, and a guardian
  session opened. With an allowed ``return_to`` the browser goes there with
  ``#token=…&expires_at=…`` (a fragment never reaches a server log); otherwise JSON.
- ``POST /auth/{name}/session`` with the provider's credential in ``Authorization`` (the
  鄂汇办 in-app token, an OpenID Connect ID token): JSON with the session token.
- ``POST /auth/logout`` with the session token: ends it (also ``guardianSignOut`` in GraphQL).

Nothing the provider issued (ticket, code, tokens) is kept; errors are JSON
``{"error": {"code", "message"}}`` with a Chinese message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ruxue_core import guardian_sessions
from ruxue_core.errors import ErrorCode, RuxueError
from ruxue_core.plugins.contracts import RedirectLogin
from ruxue_core.plugins.host import SelectedIdentityProvider
from ruxue_core.runtime import Runtime
from ruxue_core.services.sessions import (
    GuardianSignedIn,
    close_guardian_session,
    open_guardian_session,
)

log = logging.getLogger(__name__)

COOKIE: Final = "ruxue_login"
MAX_PARAM: Final = 2048


def _error(status: int, code: ErrorCode, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code.name, "message": message}}, status_code=status)


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def provider_logout_url(runtime: Runtime, name: str) -> str | None:
    """The login provider's own logout page, returning to the first allowed front end."""
    selected = runtime.host.login_provider(name)
    returns = runtime.settings.guardian_auth.return_urls
    if selected is None or not returns or not isinstance(selected.provider, RedirectLogin):
        return None
    return selected.provider.logout_url(returns[0])


class AuthRoutes:
    """The sign-in routes for one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    def routes(self) -> list[Route]:
        """Starlette routes, mounted by the app under ``/auth``."""
        return [
            Route("/auth/providers", self.providers, methods=["GET"]),
            Route("/auth/logout", self.logout, methods=["POST"]),
            Route("/auth/{name}/login", self.login, methods=["GET"]),
            Route("/auth/{name}/callback", self.callback, methods=["GET"]),
            Route("/auth/{name}/session", self.session, methods=["POST"]),
        ]

    # -- helpers -----------------------------------------------------------------------------

    def _provider(self, request: Request) -> SelectedIdentityProvider | None:
        return self.runtime.host.login_provider(str(request.path_params["name"]))

    def _callback_url(self, request: Request, name: str) -> str:
        base = self.settings.guardian_auth.public_url or str(request.base_url)
        return f"{base.rstrip('/')}/auth/{name}/callback"

    def _allowed_return(self, url: str) -> bool:
        return any(url.startswith(prefix) for prefix in self.settings.guardian_auth.return_urls)

    def _limited(self, request: Request) -> JSONResponse | None:
        client = request.client.host if request.client else "unknown"
        limit = self.settings.guardian_auth.logins_per_minute_per_client
        if not self.runtime.logins.allow(client, limit):
            return _error(429, ErrorCode.RATE_LIMITED, "登录尝试过于频繁，请稍后再试")
        return None

    async def _open(self, name: str, selected: SelectedIdentityProvider, credential: str) -> Any:
        """The session for a provider credential, or an error response."""
        try:
            async with asyncio.timeout(self.settings.plugin_timeout_seconds):
                principal = await selected.provider.authenticate(credential)
        except Exception as exc:
            log.warning("login provider %s failed: %s", name, type(exc).__name__)
            return _error(502, ErrorCode.CONFIGURATION, "统一身份认证服务暂时不可用，请稍后再试")
        if principal is None:
            return _error(401, ErrorCode.INVALID_CREDENTIALS, "登录凭证无效或已过期，请重新登录")
        try:
            return await open_guardian_session(self.runtime, name, principal)
        except RuxueError as exc:
            return _error(403, exc.code, exc.message)

    @staticmethod
    def _session_json(signed_in: GuardianSignedIn) -> JSONResponse:
        return JSONResponse(
            {
                "token": signed_in.token,
                "expiresAt": signed_in.expires_at.isoformat(),
                "provider": signed_in.provider,
                "assuranceLevel": signed_in.assurance_level,
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- routes ------------------------------------------------------------------------------

    async def providers(self, _request: Request) -> Response:
        """The configured login providers and whether each signs in by redirect."""
        return JSONResponse(
            {
                "providers": [
                    {"name": p.name, "redirect": isinstance(p.provider, RedirectLogin)}
                    for p in self.runtime.host.login_providers()
                ]
            }
        )

    async def login(self, request: Request) -> Response:
        """Send the browser to the provider's sign-in page."""
        selected = self._provider(request)
        if selected is None or not isinstance(selected.provider, RedirectLogin):
            return _error(404, ErrorCode.NOT_FOUND, "没有这种跳转登录方式")
        return_to = request.query_params.get("return_to", "")
        if return_to and (len(return_to) > MAX_PARAM or not self._allowed_return(return_to)):
            return _error(400, ErrorCode.INVALID_INPUT, "return_to 不在允许的前端地址之内")
        nonce = secrets.token_urlsafe(16)
        state = guardian_sessions.issue_state(
            self.settings, {"p": selected.name, "n": _digest(nonce), "r": return_to}
        )
        try:
            async with asyncio.timeout(self.settings.plugin_timeout_seconds):
                target = await selected.provider.login_url(
                    self._callback_url(request, selected.name), state
                )
        except Exception as exc:
            log.warning("login provider %s failed: %s", selected.name, type(exc).__name__)
            return _error(502, ErrorCode.CONFIGURATION, "统一身份认证服务暂时不可用，请稍后再试")
        response = RedirectResponse(target, status_code=302)
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=guardian_sessions.STATE_SECONDS,
            path=f"/auth/{selected.name}",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def callback(self, request: Request) -> Response:
        """Redeem the provider's ticket or code and open a session."""
        if (limited := self._limited(request)) is not None:
            return limited
        selected = self._provider(request)
        if selected is None or not isinstance(selected.provider, RedirectLogin):
            return _error(404, ErrorCode.NOT_FOUND, "没有这种跳转登录方式")
        params = {k: v for k, v in request.query_params.items() if len(v) <= MAX_PARAM}
        data = guardian_sessions.verify_state(self.settings, params.get("state", ""))
        nonce = request.cookies.get(COOKIE, "")
        if (
            data is None
            or data.get("p") != selected.name
            or not nonce
            or not hmac.compare_digest(str(data.get("n", "")), _digest(nonce))
        ):
            return _error(400, ErrorCode.INVALID_INPUT, "登录状态无效或已过期，请重新登录")
        try:
            async with asyncio.timeout(self.settings.plugin_timeout_seconds):
                credential = await selected.provider.redeem(
                    params, self._callback_url(request, selected.name)
                )
        except Exception as exc:
            log.warning("login provider %s failed: %s", selected.name, type(exc).__name__)
            credential = None
        if credential is None:
            return _error(401, ErrorCode.INVALID_CREDENTIALS, "登录票据无效或已过期，请重新登录")
        opened = await self._open(selected.name, selected, credential)
        if isinstance(opened, Response):
            return opened
        return_to = str(data.get("r") or "")
        if return_to and self._allowed_return(return_to):
            fragment = urlencode({"token": opened.token, "expires_at": opened.expires_at})
            response: Response = RedirectResponse(f"{return_to}#{fragment}", status_code=302)
        else:
            response = self._session_json(opened)
        response.delete_cookie(COOKIE, path=f"/auth/{selected.name}")
        return response

    async def session(self, request: Request) -> Response:
        """Open a session for a credential the client holds (in-app token, ID token)."""
        if (limited := self._limited(request)) is not None:
            return limited
        selected = self._provider(request)
        if selected is None:
            return _error(404, ErrorCode.NOT_FOUND, "没有这种登录方式")
        authorization = request.headers.get("authorization", "")
        if not authorization or len(authorization) > MAX_PARAM * 4:
            return _error(401, ErrorCode.INVALID_CREDENTIALS, "缺少登录凭证")
        opened = await self._open(selected.name, selected, authorization)
        return opened if isinstance(opened, Response) else self._session_json(opened)

    async def logout(self, request: Request) -> Response:
        """End the session the request's token names."""
        principal = await self.runtime.authenticate(request.headers.get("authorization"))
        try:
            provider = await close_guardian_session(self.runtime, principal)
        except RuxueError as exc:
            return _error(403, exc.code, exc.message)
        return JSONResponse(
            {"ok": True, "providerLogoutUrl": provider_logout_url(self.runtime, provider)}
        )
