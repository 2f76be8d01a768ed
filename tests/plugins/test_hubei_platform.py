"""The Hubei platform plugin against the sandbox's fake platform and identity provider, over
real HTTP: the core's contract suites for its case reporter and its three login providers,
and what the contracts leave to the plugin (signing, mapping, level and ID-type rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any, Final

import pytest

from ruxue_core import (
    CaseRecordPush,
    CaseReporter,
    ConfigurationError,
    IdentityProvider,
    Mode,
    PermanentPluginError,
    PushOutcome,
    Settings,
    TemporaryPluginError,
)
from ruxue_core.rules.codes import new_receipt_no
from ruxue_core.testing import CaseReporterContract, IdentityProviderContract
from ruxue_core.testing.factories import GUARDIAN_ID
from ruxue_platform_hubei import (
    EhbIdentityProvider,
    HubeiCaseReporter,
    OidcIdentityProvider,
    PortalIdentityProvider,
    load_mapping,
)
from ruxue_platform_hubei import plugin as hubei_plugin
from ruxue_sandbox import (
    FakeIdentityProvider,
    FakePlatform,
    IdpUser,
    create_identity_app,
    create_platform_app,
    serve_in_thread,
)

USER: Final = IdpUser("zhangsan", "secret-pass", "U-0001", "张三", GUARDIAN_ID, "13812345678")


@pytest.fixture(scope="module")
def platform() -> Iterator[tuple[FakePlatform, str]]:
    fake = FakePlatform(ack_delay=0.2, seed=7)
    with serve_in_thread(create_platform_app(fake)) as url:
        yield fake, url


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[FakeIdentityProvider, str]]:
    fake = FakeIdentityProvider()
    fake.add(USER, IdpUser("lisi", "pw-lisi-000", "U-0002", "李四", "", "", "L1"))
    with serve_in_thread(create_identity_app(fake)) as url:
        fake.issuer = f"{url}/oidc"
        yield fake, url


def options_for(platform_url: str, idp_url: str) -> dict[str, dict[str, Any]]:
    """Plugin options pointing every part of the plugin at the sandbox."""
    return {
        "hubei": {"base_url": platform_url},
        "hubei_portal": {"api_url": idp_url},
        "hubei_oidc": {"issuer": f"{idp_url}/oidc"},
        "hubei_ehb": {"gateway_url": f"{idp_url}/ehb/gateway"},
    }


@pytest.fixture
def hubei_settings(
    tmp_path: Any, platform: tuple[FakePlatform, str], idp: tuple[FakeIdentityProvider, str]
) -> Settings:
    return Settings(data_dir=tmp_path, plugin_options=options_for(platform[1], idp[1]))


def record(version: int = 1, *, receipt_no: str | None = None, **personal: str) -> CaseRecordPush:
    receipt = receipt_no or new_receipt_no("420704", date(2026, 7, 1))
    return CaseRecordPush(
        receipt,
        version,
        "accept",
        {
            "receipt_no": receipt,
            "version": version,
            "kind": "accept",
            "item_code": "420704-JY-0001",
            "implementation_code": "11420704MB1234567X-420704000000-000-JY0001-1-00",
            "item_name": "义务教育阶段入学（小学一年级）",
            "department_code": "11420704MB1234567X",
            "department_name": "鄂州市临空经济区社会事务局",
            "channel": "online",
            "applicant_type": "natural_person",
            "applicant_id_type": "resident_id",
            "accepted_at": "2026-07-01T01:00:00+00:00",
            "accepted_by": "张三",
            "promised_at": "2026-07-21",
            "region_code": "420704",
        },
        {
            "applicant_name": "张三",
            "applicant_id_number": GUARDIAN_ID,
            "applicant_phone": "13812345678",
            "query_code": "123456",
        }
        | personal,
    )


# ---- the case reporter ----------------------------------------------------------------------


class TestHubeiCaseReporter(CaseReporterContract):
    """The contract, against the fake platform (acknowledging after 0.2 s)."""

    @pytest.fixture
    async def reporter(self, hubei_settings: Settings) -> AsyncIterator[CaseReporter]:
        reporter = HubeiCaseReporter.from_settings(hubei_settings)
        yield reporter
        await reporter.aclose()

    @pytest.fixture
    def plugin_module(self) -> object:
        return hubei_plugin

    @pytest.fixture
    def plugin_settings(self, hubei_settings: Settings) -> Settings:
        return hubei_settings

    @pytest.fixture
    def case_record(self) -> CaseRecordPush:
        return record()

    @pytest.fixture
    def malformed_record(self) -> CaseRecordPush:
        return record(query_code="")  # 查询密码 missing: the platform refuses it


async def test_the_default_mapping_sends_the_guessed_4_2_1_fields(
    hubei_settings: Settings, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    reporter = HubeiCaseReporter.from_settings(hubei_settings)
    try:
        pushed = record()
        await reporter.push(pushed)
    finally:
        await reporter.aclose()
    stored = fake.stored[(pushed.receipt_no, 1)]
    assert stored.interface == "4.2.1"
    body = stored.body
    assert body["PROJID"] == pushed.receipt_no and body["DATAVERSION"] == 1
    assert body["APPLY_CARDNUMBER"] == GUARDIAN_ID and body["PROJPWD"] == "123456"
    assert body["APPLYFROM"] == "1" and body["APPLY_CARDTYPE"] == "111"
    assert body["ACCEPT_TIME"] == "2026-07-01 09:00:00"  # Beijing time
    assert body["PROMISE_ETIME"] == "2026-07-21"


async def test_a_wrong_secret_is_a_permanent_error_and_an_outage_a_temporary_one(
    hubei_settings: Settings, platform: tuple[FakePlatform, str]
) -> None:
    fake, url = platform
    wrong = HubeiCaseReporter(
        base_url=url, app_code=fake.app_code, app_secret="wrong", mapping=load_mapping({})
    )
    try:
        with pytest.raises(PermanentPluginError):
            await wrong.push(record())
    finally:
        await wrong.aclose()
    reporter = HubeiCaseReporter.from_settings(hubei_settings)
    fake.down = True
    try:
        with pytest.raises(TemporaryPluginError):
            await reporter.push(record())
        with pytest.raises(TemporaryPluginError):
            await reporter.acknowledgements([record().ref])
    finally:
        fake.down = False
        await reporter.aclose()
    gone = HubeiCaseReporter(
        base_url="http://127.0.0.1:9", app_code="x", app_secret="y", mapping=load_mapping({})
    )
    try:
        with pytest.raises(TemporaryPluginError):
            await gone.push(record())
    finally:
        await gone.aclose()


def test_production_needs_the_secret_from_the_environment(tmp_path: Any) -> None:
    production = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="RUXUE_PLUGIN_OPTIONS__HUBEI__APP_SECRET"):
        HubeiCaseReporter.from_settings(production)
    for factory in (
        PortalIdentityProvider.from_settings,
        OidcIdentityProvider.from_settings,
        EhbIdentityProvider.from_settings,
    ):
        with pytest.raises(ConfigurationError):
            factory(production)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"interfaces": {"4.2.1": ["accept"], "4.2.2": ["process", "result"]}}, "interfaces"),
        ({"codes": {}}, "code table"),
        ({"transport": {"receipt_field": "PROJID"}}, "version_field"),
    ],
)
def test_an_incomplete_mapping_is_refused_naming_the_problem(
    change: dict[str, Any], problem: str
) -> None:
    from ruxue_platform_hubei import default_mapping_data

    data = default_mapping_data() | change
    with pytest.raises(ConfigurationError, match=problem):
        load_mapping({"mapping": data})


# ---- the login providers --------------------------------------------------------------------


class _LoginContract(IdentityProviderContract):
    @pytest.fixture
    def plugin_module(self) -> object:
        return hubei_plugin

    @pytest.fixture
    def plugin_settings(self, hubei_settings: Settings) -> Settings:
        return hubei_settings


class TestPortalProvider(_LoginContract):
    """The portal's ticket flow: a ticket redeemed for the portal's access token."""

    @pytest.fixture
    async def provider(self, hubei_settings: Settings) -> AsyncIterator[IdentityProvider]:
        provider = PortalIdentityProvider.from_settings(hubei_settings)
        yield provider
        await provider.aclose()

    @pytest.fixture
    async def valid_authorization(
        self, provider: PortalIdentityProvider, idp: tuple[FakeIdentityProvider, str]
    ) -> str:
        credential = await provider.redeem({"ticket": idp[0].ticket("zhangsan")}, "http://cb")
        assert credential is not None
        return credential


class TestOidcProvider(_LoginContract):
    """OpenID Connect: ID tokens verified against the issuer's JWKS."""

    @pytest.fixture
    async def provider(self, hubei_settings: Settings) -> AsyncIterator[IdentityProvider]:
        provider = OidcIdentityProvider.from_settings(hubei_settings)
        yield provider
        await provider.aclose()

    @pytest.fixture
    def valid_authorization(self, idp: tuple[FakeIdentityProvider, str]) -> str:
        return f"Bearer {idp[0].id_token('zhangsan')}"


class TestEhbProvider(_LoginContract):
    """鄂汇办: the in-app token, asked of the app's gateway."""

    @pytest.fixture
    async def provider(self, hubei_settings: Settings) -> AsyncIterator[IdentityProvider]:
        provider = EhbIdentityProvider.from_settings(hubei_settings)
        yield provider
        await provider.aclose()

    @pytest.fixture
    def valid_authorization(self, idp: tuple[FakeIdentityProvider, str]) -> str:
        return f"Bearer {idp[0].app_token('zhangsan')}"


async def test_each_provider_yields_the_verified_person(
    hubei_settings: Settings, idp: tuple[FakeIdentityProvider, str]
) -> None:
    fake, _ = idp
    portal = PortalIdentityProvider.from_settings(hubei_settings)
    oidc = OidcIdentityProvider.from_settings(hubei_settings)
    ehb = EhbIdentityProvider.from_settings(hubei_settings)
    try:
        credentials: list[tuple[IdentityProvider, str | None]] = [
            (portal, await portal.redeem({"ticket": fake.ticket("zhangsan")}, "http://cb")),
            (oidc, f"Bearer {fake.id_token('zhangsan')}"),
            (ehb, f"Bearer {fake.app_token('zhangsan')}"),
        ]
        for provider, credential in credentials:
            assert credential is not None
            principal = await provider.authenticate(credential)
            assert principal is not None, provider
            assert principal.verified_id_number == GUARDIAN_ID
            assert (principal.name, principal.verified_phone) == ("张三", "13812345678")
            assert principal.assurance_level == 3
        # A ticket is good once.
        ticket = fake.ticket("zhangsan")
        assert await portal.redeem({"ticket": ticket}, "http://cb") is not None
        assert await portal.redeem({"ticket": ticket}, "http://cb") is None
        # An ID token for another client, or from another issuer's key, is refused.
        other = f"Bearer {fake.id_token('zhangsan', audience='someone-else')}"
        assert await oidc.authenticate(other) is None
        stranger = FakeIdentityProvider()
        stranger.add(USER)
        stranger.issuer = fake.issuer
        assert await oidc.authenticate(f"Bearer {stranger.id_token('zhangsan')}") is None
        expired = f"Bearer {fake.id_token('zhangsan', ttl=-120)}"
        assert await oidc.authenticate(expired) is None
        # A low-level account without an ID number yields no verified ID.
        low = await ehb.authenticate(f"Bearer {fake.app_token('lisi')}")
        assert low is not None and low.verified_id_number is None
        assert low.assurance_level == 1
    finally:
        for closing in (portal, oidc, ehb):
            await closing.aclose()


async def test_the_redirect_flows_return_to_the_callback_with_state(
    hubei_settings: Settings,
) -> None:
    portal = PortalIdentityProvider.from_settings(hubei_settings)
    oidc = OidcIdentityProvider.from_settings(hubei_settings)
    try:
        url = await portal.login_url("https://ruxue.example/auth/hubei_portal/callback", "S1")
        assert "appCode=ruxue-sandbox" in url and "gotoUrl=" in url and "S1" in url
        url = await oidc.login_url("https://ruxue.example/cb", "S2")
        assert url.startswith(f"{oidc.issuer}/authorize?")  # from the discovery document
        assert "response_type=code" in url and "state=S2" in url and "nonce=" in url
        assert await oidc.redeem({"code": "nonsense", "state": "S2"}, "https://x/cb") is None
        assert portal.logout_url("https://ruxue.example/") is not None
    finally:
        await portal.aclose()
        await oidc.aclose()


def test_the_plugin_pushes_only_through_configuration(hubei_settings: Settings) -> None:
    """Which interfaces exist is the mapping's business, not the code's."""
    mapping = HubeiCaseReporter.from_settings(hubei_settings).mapping
    assert {mapping.interface_for(k) for k in ("accept", "process")} == {"4.2.1", "4.2.2"}
    assert PushOutcome.RECEIVED.value in mapping.transport.statuses.values()
