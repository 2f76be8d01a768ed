"""Guardians sign in through the province's unified identity over real HTTP — the portal's
ticket flow, OpenID Connect and the 鄂汇办 in-app token, against the sandbox's fake identity
provider — apply with the session they get, reach only their own applications, and sign out."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ruxue_core.domain.types import utcnow
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.seasons import load_season
from ruxue_core.settings import GuardianAuthSettings, Settings
from ruxue_core.testing.factories import (
    GUARDIAN_ID,
    OTHER_GUARDIAN,
    OTHER_GUARDIAN_ID,
    child_id_number,
    submit_command,
)
from ruxue_gateway.app import create_app
from ruxue_sandbox import FakeIdentityProvider, IdpUser, create_identity_app, serve_in_thread

pytestmark = pytest.mark.slow

FRONTEND: Final = "http://frontend.example/app"
ZHANG: Final = IdpUser("zhangsan", "pass-zhang-1", "U-1", "张三", GUARDIAN_ID, "13812345678")
LOW: Final = IdpUser("wangwu", "pass-wang-11", "U-3", "王五", OTHER_GUARDIAN_ID, "", "L1")
SUBMIT: Final = """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  __typename ... on SubmitApplicationSuccess { applicationId } ... on Error { code field } } }"""
APPLICATION: Final = """query($id: ID!) { application(id: $id) {
  __typename ... on Application { status } ... on Error { code } } }"""
VIEWER: Final = "query { viewer { id role } }"
SIGN_OUT: Final = """mutation { guardianSignOut { __typename
  ... on GuardianSignedOut { ok providerLogoutUrl } ... on Error { code } } }"""


@dataclass
class World:
    """The gateway, the fake identity provider, and another family's application."""

    gateway: str
    idp: FakeIdentityProvider
    idp_url: str
    season: str
    other_application: int


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, season_file: SeasonFile
) -> Iterator[World]:
    idp = FakeIdentityProvider()
    idp.add(ZHANG, LOW)
    with serve_in_thread(create_identity_app(idp)) as idp_url:
        idp.issuer = f"{idp_url}/oidc"
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("login") / "var",
            database_url=module_database_url,
            verifiers=[],
            notifiers=[],
            guardian_auth=GuardianAuthSettings(
                login_providers=["hubei_portal", "hubei_oidc", "hubei_ehb"],
                return_urls=[FRONTEND],
            ),
            plugin_options={
                "hubei_portal": {"api_url": idp_url},
                "hubei_oidc": {"issuer": f"{idp_url}/oidc"},
                "hubei_ehb": {"gateway_url": f"{idp_url}/ehb/gateway"},
            },
        )

        async def seed() -> int:
            runtime = Runtime.create(settings)
            try:
                window = (utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
                await load_season(runtime, season_file, Principal.system(), window=window)
                other = submit_command(
                    season_file.season.code,
                    child_id=child_id_number(),
                    guardian_id=OTHER_GUARDIAN_ID,
                    guardian_name=OTHER_GUARDIAN.name,
                )
                return (await submit_application(runtime, other, OTHER_GUARDIAN)).application_id
            finally:
                await runtime.close()

        other_application = asyncio.run(seed())
        with serve_in_thread(create_app(settings, in_process_worker=False)) as gateway:
            yield World(gateway, idp, idp_url, season_file.season.code, other_application)


def graphql(world: World, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{world.gateway}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def sign_in_form(client: httpx.Client, page: httpx.Response, user: IdpUser) -> httpx.Response:
    """Fill in the identity provider's sign-in form as a person would."""
    assert page.status_code == 200, page.text
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    hidden = {k: v.replace("&amp;", "&") for k, v in hidden.items()}
    target = httpx.URL(str(page.url)).join(action.group(1))
    return client.post(
        str(target), data=hidden | {"username": user.username, "password": user.password}
    )


def portal_login(world: World, user: IdpUser, *, return_to: str | None = FRONTEND) -> str:
    """The whole browser flow: gateway → portal page → sign in → callback → front end."""
    with httpx.Client(timeout=30) as browser:
        query = {"return_to": return_to} if return_to else {}
        start = browser.get(f"{world.gateway}/auth/hubei_portal/login", params=query)
        assert start.status_code == 302
        location = start.headers["location"]
        assert location.startswith(f"{world.idp_url}/web/user/uias_login.do?appCode=")
        back = sign_in_form(browser, browser.get(location), user)
        assert back.status_code == 302 and "ticket=ST-" in back.headers["location"]
        done = browser.get(back.headers["location"])
        if done.status_code != 302:
            return f"ERROR {done.status_code} {done.json()['error']['code']}"
        landing = done.headers["location"]
        assert landing.startswith(f"{FRONTEND}#")
        return parse_qs(urlsplit(landing).fragment)["token"][0]


def oidc_login(world: World, user: IdpUser) -> str:
    with httpx.Client(timeout=30) as browser:
        start = browser.get(f"{world.gateway}/auth/hubei_oidc/login")
        assert start.status_code == 302
        back = sign_in_form(browser, browser.get(start.headers["location"]), user)
        assert back.status_code == 302 and "code=" in back.headers["location"]
        done = browser.get(back.headers["location"])
        assert done.status_code == 200, done.text
        assert done.headers["cache-control"] == "no-store"
        token: str = done.json()["token"]
        return token


def app_login(world: World, user: IdpUser) -> httpx.Response:
    token = world.idp.app_token(user.username)
    return httpx.post(
        f"{world.gateway}/auth/hubei_ehb/session",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def submit_own(world: World, token: str) -> int:
    command = {
        "seasonCode": world.season,
        "child": {"name": "张小明", "idNumber": child_id_number()},
        "guardian": {"name": ZHANG.name, "idNumber": GUARDIAN_ID},
        "guardianPhone": ZHANG.phone,
        "relationship": "FATHER",
        "address": "燕矶镇新街10号",
        "townshipCode": "420704101",
    }
    result = graphql(world, token, SUBMIT, input=command)["submitApplication"]
    assert result["__typename"] == "SubmitApplicationSuccess", result
    return int(result["applicationId"])


def test_each_way_in_reaches_only_the_guardians_own_applications(world: World) -> None:
    tokens = {
        "portal": portal_login(world, ZHANG),
        "oidc": oidc_login(world, ZHANG),
        "app": app_login(world, ZHANG).json()["token"],
    }
    own = submit_own(world, tokens["portal"])  # applying needs the verified ID: it is there
    for way, token in tokens.items():
        assert token.startswith("gdn.") and GUARDIAN_ID not in token, way
        viewer = graphql(world, token, VIEWER)["viewer"]
        assert viewer["role"] == "guardian", way
        mine = graphql(world, token, APPLICATION, id=str(own))["application"]
        assert mine["__typename"] == "Application", way
        theirs = graphql(world, token, APPLICATION, id=str(world.other_application))
        assert theirs["application"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}


def test_signing_out_ends_the_session_at_once(world: World) -> None:
    portal = portal_login(world, ZHANG)
    bearer = {"Authorization": f"Bearer {portal}"}
    response = httpx.post(f"{world.gateway}/auth/logout", headers=bearer)
    assert response.status_code == 200
    assert response.json()["providerLogoutUrl"].startswith(f"{world.idp_url}/web/user/logout.do")
    assert graphql(world, portal, VIEWER)["viewer"] is None
    again = httpx.post(
        f"{world.gateway}/auth/logout", headers={"Authorization": f"Bearer {portal}"}
    )
    assert again.status_code == 403

    app = app_login(world, ZHANG).json()["token"]
    signed_out = graphql(world, app, SIGN_OUT)["guardianSignOut"]
    assert signed_out["__typename"] == "GuardianSignedOut" and signed_out["ok"] is True
    assert graphql(world, app, VIEWER)["viewer"] is None
    assert graphql(world, None, SIGN_OUT)["guardianSignOut"]["__typename"] == "ForbiddenError"


def test_refusals(world: World) -> None:
    # A login below the required real-name level opens no session.
    assert portal_login(world, LOW) == "ERROR 403 FORBIDDEN"
    refused = app_login(world, LOW)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    # A made-up in-app token, an unknown provider, a foreign front end.
    bogus = httpx.post(
        f"{world.gateway}/auth/hubei_ehb/session", headers={"Authorization": "Bearer EHB-xyz-123"}
    )
    assert bogus.status_code == 401
    assert httpx.get(f"{world.gateway}/auth/nobody/login").status_code == 404
    evil = httpx.get(
        f"{world.gateway}/auth/hubei_portal/login", params={"return_to": "https://evil.example/"}
    )
    assert evil.status_code == 400
    # A callback without the browser's login cookie (login CSRF), and a replayed ticket.
    with httpx.Client(timeout=30) as browser:
        start = browser.get(f"{world.gateway}/auth/hubei_portal/login")
        back = sign_in_form(browser, browser.get(start.headers["location"]), ZHANG)
        callback = back.headers["location"]
        assert httpx.get(callback).status_code == 400  # another browser: no cookie
        assert browser.get(callback).status_code == 200  # the right browser, once
        replay = browser.get(callback)
        assert replay.status_code in (400, 401)
    listed = httpx.get(f"{world.gateway}/auth/providers").json()["providers"]
    assert {(p["name"], p["redirect"]) for p in listed} == {
        ("hubei_portal", True),
        ("hubei_oidc", True),
        ("hubei_ehb", False),
    }
