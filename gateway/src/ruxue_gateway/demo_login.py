"""The demo's guardians sign in as a browser would: through the (fake) provincial portal's
ticket flow (gateway → portal sign-in form → callback → guardian session)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, Final, Protocol

import httpx

PROVIDER: Final = "hubei_portal"
_ACTION: Final = re.compile(r'action="([^"]+)"')
_HIDDEN: Final = re.compile(r'type="hidden" name="([^"]+)" value="([^"]*)"')


class _Guardian(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def guardian_name(self) -> str: ...
    @property
    def guardian_id(self) -> str: ...
    @property
    def phone(self) -> str: ...


def password_of(family: _Guardian) -> str:
    """A synthetic family's portal password (deterministic, never a real secret)."""
    return hashlib.sha256(f"demo-{family.index}".encode()).hexdigest()[:16]


def idp_users(families: Iterable[_Guardian]) -> list[Any]:
    """The fake identity provider's accounts: one real-name verified (level L3) per guardian."""
    from ruxue_sandbox import IdpUser

    return [
        IdpUser(
            username=f"g{f.index}",
            password=password_of(f),
            user_id=f"HB-{f.index:06d}",
            name=f.guardian_name,
            id_number=f.guardian_id,
            phone=f.phone,
            level="L3",
        )
        for f in families
    ]


class PortalBrowser:
    """Signs guardians in through the gateway's portal flow, one browser (cookie jar) each."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url.rstrip("/")

    async def sign_in(self, username: str, password: str) -> str:
        """The guardian session token after a whole portal sign-in.

        :raises RuntimeError: a step answered unexpectedly.
        """
        async with httpx.AsyncClient(timeout=30) as browser:
            start = await browser.get(f"{self.gateway_url}/auth/{PROVIDER}/login")
            page = await browser.get(_location(start))
            action = _ACTION.search(page.text)
            if page.status_code != 200 or action is None:
                raise RuntimeError(f"portal sign-in page: HTTP {page.status_code}")
            form = {k: v.replace("&amp;", "&") for k, v in _HIDDEN.findall(page.text)}
            form |= {"username": username, "password": password}
            back = await browser.post(str(page.url.join(action.group(1))), data=form)
            done = await browser.get(_location(back))
            if done.status_code != 200:
                raise RuntimeError(f"portal callback: HTTP {done.status_code} {done.text[:200]}")
            token: str = done.json()["token"]
            return token


def _location(response: httpx.Response) -> str:
    if response.status_code != 302:
        raise RuntimeError(f"expected a redirect, got HTTP {response.status_code}")
    return response.headers["location"]
