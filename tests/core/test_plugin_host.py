"""The plugin host: discovery, duplicate and unknown names, broken and blocked entry points,
the bundled dev identity provider, identity providers as the runtime asks them (roles bound by
registration, failures skipped), production's required settings, and hook-name validation."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import pytest

import ruxue_core.plugins.host as host_module
from ruxue_core import (
    IdentityProviderRegistration,
    NotifierRegistration,
    Principal,
    SmsReceipt,
    SmsRequest,
    VerificationRequest,
    VerificationResult,
    VerifierRegistration,
    hookimpl,
    keys,
)
from ruxue_core.domain.enums import MessageStatus, Role
from ruxue_core.errors import ConfigurationError
from ruxue_core.plugins.builtin import DevIdentityProvider, issue_dev_token
from ruxue_core.plugins.host import PluginHost, SelectedIdentityProvider, build_plugin_manager
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Mode, Settings


class NullVerifier:
    async def verify(self, request: VerificationRequest) -> VerificationResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class NullNotifier:
    async def send(self, request: SmsRequest) -> SmsReceipt:
        return SmsReceipt(MessageStatus.ACCEPTED)

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        return []

    async def aclose(self) -> None:
        return None


class VerifierPlugin:
    """Registers verifiers under the given names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def ruxue_verifiers(self, config: Settings) -> list[VerifierRegistration]:
        return [VerifierRegistration(n, ("hukou",), lambda _s: NullVerifier()) for n in self.names]


class NotifierPlugin:
    """Registers notifiers under the given names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def ruxue_notifiers(self, config: Settings) -> list[NotifierRegistration]:
        return [NotifierRegistration(n, lambda _s: NullNotifier()) for n in self.names]


class IdpPlugin:
    """Registers a second identity provider named ``dev`` (clashing with the bundled one)."""

    @hookimpl
    def ruxue_identity_providers(self, config: Settings) -> list[IdentityProviderRegistration]:
        return [IdentityProviderRegistration("dev", DevIdentityProvider)]


class TypoPlugin:
    """Implements a hook that does not exist (``ruxue_verifier`` without the s)."""

    @hookimpl
    def ruxue_verifier(self, config: Settings) -> list[VerifierRegistration]:
        return []


@dataclass
class FakeEntryPoint:
    """Quacks like ``importlib.metadata.EntryPoint`` for the host's purposes."""

    name: str
    value: str
    loader: Callable[[], object]
    loads: list[str] = field(default_factory=list)
    group: str = "ruxue"

    def load(self) -> object:
        self.loads.append(self.name)
        return self.loader()


def _broken() -> object:
    raise ImportError("No module named 'ruxue_verifier_broken'")


@pytest.fixture
def plain(tmp_path: Path) -> Settings:
    """Settings that select nothing, so a host builds without any installed plugin chosen."""
    return Settings(
        data_dir=tmp_path, verifiers=[], notifiers=[], case_reporters=[], identity_providers=[]
    )


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> list[FakeEntryPoint]:
    """Replace installed entry points with a broken one and two good ones."""
    points = [
        FakeEntryPoint("broken", "ruxue_verifier_broken.plugin", _broken),
        FakeEntryPoint("cityverify", "ruxue_verifier_city.plugin", lambda: VerifierPlugin("city")),
        FakeEntryPoint("vendorsms", "ruxue_notifier_vendor.plugin", lambda: NotifierPlugin("sms")),
    ]
    groups: list[str] = []

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        groups.append(group)
        return points if group == "ruxue" else []

    monkeypatch.setattr(host_module, "entry_points", entry_points)
    return points


# ---- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plugins",
    [
        [VerifierPlugin("twin"), VerifierPlugin("twin")],
        [VerifierPlugin("twin", "twin")],
        [NotifierPlugin("a", "b"), NotifierPlugin("b")],
        [IdpPlugin()],
    ],
    ids=["two plugins", "one plugin twice", "notifiers", "clash with bundled dev"],
)
def test_duplicate_registration_names_are_refused(plain: Settings, plugins: list[object]) -> None:
    pm = build_plugin_manager(plain, extra_plugins=plugins, load_entry_points=False)
    with pytest.raises(ConfigurationError) as caught:
        PluginHost(plain, pm)
    assert "重复" in caught.value.message


def test_the_same_name_in_different_kinds_is_fine(plain: Settings) -> None:
    pm = build_plugin_manager(
        plain, extra_plugins=[VerifierPlugin("x"), NotifierPlugin("x")], load_entry_points=False
    )
    available = PluginHost(plain, pm).available()
    assert "x" in available["verifiers"]
    assert "x" in available["notifiers"]


@pytest.mark.parametrize(
    ("setting", "select"),
    [
        ("verifiers", PluginHost.verifiers),
        ("notifiers", PluginHost.notifiers),
        ("case_reporters", PluginHost.case_reporters),
        ("identity_providers", PluginHost.identity_providers),
    ],
)
def test_an_unknown_configured_name_lists_the_valid_ones(
    plain: Settings, setting: str, select: Callable[[PluginHost], object]
) -> None:
    settings = plain.model_copy(update={setting: ["nosuch"]})
    pm = build_plugin_manager(
        settings,
        extra_plugins=[VerifierPlugin("alpha", "beta"), NotifierPlugin("gamma")],
        load_entry_points=False,
    )
    host = PluginHost(settings, pm)
    with pytest.raises(ConfigurationError) as caught:
        select(host)
    message = caught.value.message
    assert "nosuch" in message
    assert setting in message
    valid = host.available()[setting]
    for name in valid:
        assert name in message
    if not valid:
        assert "无" in message


def test_configured_names_are_selected_in_configured_order(plain: Settings) -> None:
    settings = plain.model_copy(update={"notifiers": ["second", "first"]})
    pm = build_plugin_manager(
        settings,
        extra_plugins=[NotifierPlugin("first", "second", "unused")],
        load_entry_points=False,
    )
    assert [name for name, _ in PluginHost(settings, pm).notifiers()] == ["second", "first"]


def test_installed_bundled_plugins_are_discovered(plain: Settings) -> None:
    host = PluginHost.create(plain)
    available = host.available()
    assert "gongan" in available["verifiers"]
    assert "devlog" in available["notifiers"]
    assert "dev" in available["identity_providers"]


# ---- entry points ---------------------------------------------------------------------------


def test_a_broken_entry_point_is_skipped_with_a_log_line(
    plain: Settings, fake_entry_points: list[FakeEntryPoint], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ruxue_core.plugins.host"):
        host = PluginHost.create(plain)

    assert all(point.loads for point in fake_entry_points), "every entry point was tried"
    available = host.available()
    assert available["verifiers"] == ["city"]
    assert available["notifiers"] == ["sms"]
    assert "broken" not in host.plugin_names
    assert {"cityverify", "vendorsms", "ruxue.builtin"} <= set(host.plugin_names)

    records = [r for r in caplog.records if r.name == "ruxue_core.plugins.host"]
    assert len(records) == 1
    [record] = records
    assert record.levelno >= logging.WARNING
    assert "broken" in record.getMessage()
    assert "ruxue_verifier_broken.plugin" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is ImportError


def test_blocked_plugin_names_are_skipped(
    plain: Settings, fake_entry_points: list[FakeEntryPoint]
) -> None:
    settings = plain.model_copy(update={"blocked_plugins": ["cityverify", "ruxue.builtin"]})
    host = PluginHost.create(settings)
    loaded = {p.name for p in fake_entry_points if p.loads}
    assert "cityverify" not in loaded, "a blocked entry point is not even imported"
    available = host.available()
    assert available["verifiers"] == []
    assert available["notifiers"] == ["sms"]
    assert available["identity_providers"] == [], "the bundled defaults can be blocked too"
    with pytest.raises(ConfigurationError):
        PluginHost.create(settings.model_copy(update={"verifiers": ["city"]})).verifiers()


# ---- the dev identity provider --------------------------------------------------------------

PRINCIPALS = [
    Principal("guardian-1", Role.GUARDIAN, "张三", verified_id_number="420704198501011233"),
    Principal("counter-1", Role.COUNTER_STAFF, "赵窗口", region_code="420704101"),
    Principal("reviewer-1", Role.SCHOOL_REVIEWER, "李老师", school_code="LK-YJ-01"),
    Principal("admin", Role.ADMIN),
]


def dev_provider(settings: Settings) -> SelectedIdentityProvider:
    """The one configured identity provider of ``settings`` (the dev one)."""
    [selected] = PluginHost.create(settings).identity_providers()
    return selected


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.role.value)
async def test_dev_tokens_round_trip(tmp_path: Path, principal: Principal) -> None:
    settings = Settings(data_dir=tmp_path, identity_providers=["dev"])
    selected = dev_provider(settings)
    assert selected.name == "dev"
    assert selected.roles == frozenset(Role) - {Role.SYSTEM}
    token = issue_dev_token(settings, principal)
    assert token.startswith("dev.")
    found = await selected.provider.authenticate(f"Bearer {token}")
    assert found == principal
    assert found is not None and found.verified_id_number == principal.verified_id_number
    assert (settings.data_dir / "dev-token.key").exists(), "a random key, made on first use"


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


async def test_tampered_expired_or_foreign_dev_tokens_are_rejected(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, identity_providers=["dev"])
    provider = dev_provider(settings).provider
    token = issue_dev_token(settings, PRINCIPALS[0])
    prefix, header, payload, signature = token.split(".")
    assert prefix == "dev"
    admin = issue_dev_token(settings, Principal("guardian-1", Role.ADMIN, "张三"))
    elsewhere = Settings(data_dir=tmp_path / "elsewhere", identity_providers=["dev"])

    rejected = [
        f"Bearer dev.{header}.{_flip(payload, 3)}.{signature}",
        f"Bearer dev.{header}.{payload}.{_flip(signature, 0)}",
        f"Bearer dev.{header}.{admin.split('.')[2]}.{signature}",  # another payload, our signature
        f"Bearer dev.{header}.{payload}.",
        f"Bearer dev.{header}.{payload}",
        f"Bearer {header}.{payload}.{signature}",  # without the prefix: not a dev token
        f"Bearer {issue_dev_token(elsewhere, PRINCIPALS[0])}",  # another deployment's key
        f"Bearer {issue_dev_token(settings, PRINCIPALS[0], ttl=timedelta(seconds=-1))}",
        f"Basic {token}",
        "",
    ]
    for header_value in rejected:
        assert await provider.authenticate(header_value) is None, header_value
    assert await provider.authenticate(f"Bearer {token}") == PRINCIPALS[0]


def test_production_does_not_offer_the_dev_provider(tmp_path: Path) -> None:
    production = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, identity_providers=["dev"])
    host = PluginHost.create(production)
    assert "dev" not in host.available()["identity_providers"]
    # The bundled providers (and any installed plugin's), never the dev one.
    assert {"guardian", "staff"} <= set(host.available()["identity_providers"])
    with pytest.raises(ConfigurationError) as caught:
        host.identity_providers()
    assert "dev" in caught.value.message
    with pytest.raises(ConfigurationError):
        issue_dev_token(production, PRINCIPALS[0])
    assert not (tmp_path / "dev-token.key").exists()


# ---- authentication through the runtime -------------------------------------------------------


class StubProvider:
    """Answers every header the same way (a principal, ``None``, or an exception to raise)
    and remembers each header it was asked about."""

    def __init__(self, answer: Principal | Exception | None) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def authenticate(self, authorization: str) -> Principal | None:
        self.asked.append(authorization)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class StubIdentityPlugin:
    """Registers each stub provider under its name, for the roles given."""

    def __init__(self, **providers: tuple[StubProvider, frozenset[Role]]) -> None:
        self.providers = providers

    @hookimpl
    def ruxue_identity_providers(self, config: Settings) -> list[IdentityProviderRegistration]:
        return [
            IdentityProviderRegistration(name, _factory(provider), "stub", roles)
            for name, (provider, roles) in self.providers.items()
        ]


def _factory(provider: StubProvider) -> Callable[[Settings], StubProvider]:
    return lambda _settings: provider


GUARDIAN_ONLY = frozenset({Role.GUARDIAN})
A_GUARDIAN = Principal("gov-123", Role.GUARDIAN, "张三", verified_id_number="420704198501011233")


@asynccontextmanager
async def runtime_with(
    tmp_path: Path, **providers: tuple[StubProvider, frozenset[Role]]
) -> AsyncIterator[Runtime]:
    """An embedded runtime whose identity providers are exactly ``providers``, in order."""
    settings = Settings(
        data_dir=tmp_path,
        verifiers=[],
        notifiers=[],
        identity_providers=list(providers),
    )
    runtime = Runtime.create(settings, extra_plugins=[StubIdentityPlugin(**providers)])
    try:
        yield runtime
    finally:
        await runtime.close()


async def test_a_provider_vouching_for_a_role_it_may_not_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    officer = Principal("gov-9", Role.BUREAU_OFFICER, "冒充的科长")
    province, after = StubProvider(officer), StubProvider(A_GUARDIAN)
    async with runtime_with(
        tmp_path, province=(province, GUARDIAN_ONLY), after=(after, GUARDIAN_ONLY)
    ) as runtime:
        with caplog.at_level(logging.WARNING, logger="ruxue_core.runtime"):
            assert await runtime.authenticate("Bearer forged") is None
        assert province.asked == ["Bearer forged"]
        assert after.asked == [], "a provider overstepping its roles ends authentication"
    assert "province" in caplog.text


async def test_no_provider_may_vouch_for_the_system(tmp_path: Path) -> None:
    anything = frozenset(Role)
    system = StubProvider(Principal.system())
    async with runtime_with(tmp_path, everything=(system, anything)) as runtime:
        assert await runtime.authenticate("Bearer x") is None


async def test_a_failing_provider_is_skipped_and_the_next_one_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken, declining = StubProvider(ConnectionError("统一身份认证平台不可用")), StubProvider(None)
    province = StubProvider(A_GUARDIAN)
    async with runtime_with(
        tmp_path,
        broken=(broken, GUARDIAN_ONLY),
        declining=(declining, GUARDIAN_ONLY),
        province=(province, GUARDIAN_ONLY),
    ) as runtime:
        with caplog.at_level(logging.ERROR, logger="ruxue_core.runtime"):
            found = await runtime.authenticate("Bearer ticket")
    assert found == dataclasses.replace(A_GUARDIAN, provider="province")
    assert found is not None
    assert found.verified_id_number == A_GUARDIAN.verified_id_number
    assert broken.asked == declining.asked == province.asked == ["Bearer ticket"]
    [record] = [r for r in caplog.records if r.name == "ruxue_core.runtime"]
    assert "broken" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ConnectionError


async def test_missing_or_oversized_credentials_ask_no_provider(tmp_path: Path) -> None:
    province = StubProvider(A_GUARDIAN)
    async with runtime_with(tmp_path, province=(province, GUARDIAN_ONLY)) as runtime:
        assert await runtime.authenticate(None) is None
        assert await runtime.authenticate("") is None
        assert await runtime.authenticate("Bearer " + "x" * 9000) is None
        assert province.asked == []
        province.answer = None  # a header no provider recognises: anonymous
        assert await runtime.authenticate("Bearer unknown") is None
        assert province.asked == ["Bearer unknown"]


# ---- production settings ------------------------------------------------------------------------


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``RUXUE_*`` variable and no ``ruxue.toml`` in sight; returns an empty data dir."""
    for name in list(os.environ):
        if name.startswith("RUXUE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    return data_dir


def files_in(directory: Path) -> list[Path]:
    """What ``directory`` holds (keys a runtime wrote, say)."""
    return list(directory.iterdir())


def production_values(data_dir: Path) -> dict[str, Any]:
    """Complete production settings (no external service is contacted)."""
    return {
        "mode": "production",
        "data_dir": data_dir,
        "database_url": "postgresql://ruxue@127.0.0.1:1/ruxue",
        "pii_key": keys.new_key(),
        "session_secret": keys.new_key(),
        "audit_signing_key": keys.new_key(),
        "uploads": {"storage_dir": data_dir.parent / "materials"},
        "verifiers": [],
        "notifiers": [],
    }


def production_settings(data_dir: Path, **changes: Any) -> Settings:
    """:func:`production_values` with ``changes``."""
    return Settings(**{**production_values(data_dir), **changes})


async def test_complete_production_settings_build_a_runtime(production_env: Path) -> None:
    settings = production_settings(production_env)
    assert settings.selected_identity_providers == ["staff", "guardian"]
    runtime = Runtime.create(settings)
    try:
        assert [p.name for p in runtime.host.identity_providers()] == ["staff", "guardian"]
        assert runtime.db.postgres
    finally:
        await runtime.close()
    assert files_in(production_env) == [], "production never makes keys of its own"


def test_production_without_a_materials_directory_is_refused(production_env: Path) -> None:
    """Uploaded materials never land in a default directory in production (fail closed)."""
    with pytest.raises(ConfigurationError) as caught:
        Runtime.create(production_settings(production_env, uploads={}))
    assert "RUXUE_UPLOADS__STORAGE_DIR" in caught.value.message


def test_production_without_an_identity_provider_is_refused(production_env: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Runtime.create(production_settings(production_env, identity_providers=[]))
    assert "RUXUE_IDENTITY_PROVIDERS" in caught.value.message


@pytest.mark.parametrize(
    ("setting", "variable"),
    [
        ("database_url", "RUXUE_DATABASE_URL"),
        ("pii_key", "RUXUE_PII_KEY"),
        ("session_secret", "RUXUE_SESSION_SECRET"),
        ("audit_signing_key", "RUXUE_AUDIT_SIGNING_KEY"),
    ],
)
def test_production_without_a_required_setting_names_its_variable(
    production_env: Path, setting: str, variable: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Runtime.create(production_settings(production_env, **{setting: None}))
    assert variable in caught.value.message
    assert files_in(production_env) == []


@pytest.mark.parametrize("setting", ["pii_key", "session_secret", "audit_signing_key"])
def test_production_keys_from_the_environment_must_be_32_bytes(
    production_env: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    variable = f"RUXUE_{setting.upper()}"
    monkeypatch.setenv(variable, base64.b64encode(b"too short").decode())
    values = production_values(production_env)
    del values[setting]
    settings = Settings(**values)
    assert getattr(settings, setting) is not None, "taken from the environment"
    with pytest.raises(ConfigurationError) as caught:
        Runtime.create(settings)
    assert variable in caught.value.message
    assert "32字节" in caught.value.message


# ---- hook validation ------------------------------------------------------------------------


def test_a_misspelt_hook_in_an_explicit_plugin_is_a_configuration_error(plain: Settings) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_plugin_manager(plain, extra_plugins=[TypoPlugin()], load_entry_points=False)
    assert "ruxue_verifier" in caught.value.message
    with pytest.raises(ConfigurationError):
        PluginHost.create(plain, extra_plugins=[TypoPlugin()])


def test_an_installed_plugin_with_a_misspelt_hook_is_skipped(
    plain: Settings,
    fake_entry_points: list[FakeEntryPoint],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_entry_points.append(FakeEntryPoint("typo", "ruxue_verifier_typo.plugin", TypoPlugin))
    with caplog.at_level(logging.WARNING, logger="ruxue_core.plugins.host"):
        host = PluginHost.create(plain)
    assert "typo" not in host.plugin_names
    assert host.available()["verifiers"] == ["city"], "the good plugins still load"
    messages = [r.getMessage() for r in caplog.records if "typo" in r.getMessage()]
    assert len(messages) == 1
    assert "ruxue_verifier" in messages[0]


def test_hooks_are_not_called_at_import_or_build_time_beyond_registration(plain: Settings) -> None:
    built: list[str] = []

    class Counting:
        @hookimpl
        def ruxue_notifiers(self, config: Settings) -> list[NotifierRegistration]:
            def factory(_settings: Settings) -> NullNotifier:
                built.append("built")
                return NullNotifier()

            return [NotifierRegistration("lazy", factory)]

    settings = plain.model_copy(update={"notifiers": ["lazy"]})
    host = PluginHost.create(settings, extra_plugins=[Counting()])
    assert built == [], "factories run on first use, not when the host starts"
    host.notifiers()
    host.notifiers()
    assert built == ["built"]


# ---- SMS receipt token in production ---------------------------------------------------------


VENDOR_OPTIONS: Final = {
    "aliyun": {"access_key_id": "LTAI-x", "access_key_secret": "s", "sign_name": "临空"},
}
STRONG_TOKEN: Final = "kX3v9Qp-2rT_8mZbLw4yNc7Hs1Dj5Fg6"


@pytest.mark.parametrize(
    "token",
    [None, "", "short-token", "a" * 40, "x" * 31 + "AbcdEfgh", STRONG_TOKEN[:-1] + "/"],
)
def test_production_with_receipts_needs_a_strong_receipt_token(
    production_env: Path, token: str | None
) -> None:
    """A vendor pushing receipts makes the token the callback route's only guard."""
    settings = production_settings(
        production_env,
        notifiers=["aliyun"],
        plugin_options=VENDOR_OPTIONS,
        sms={} if token is None else {"receipt_token": token},
    )
    with pytest.raises(ConfigurationError) as caught:
        Runtime.create(settings)
    assert "RUXUE_SMS__RECEIPT_TOKEN" in caught.value.message
    if token:
        assert token not in caught.value.message


async def test_production_with_a_strong_receipt_token_starts(production_env: Path) -> None:
    settings = production_settings(
        production_env,
        notifiers=["aliyun"],
        plugin_options=VENDOR_OPTIONS,
        sms={"receipt_token": STRONG_TOKEN},
    )
    runtime = Runtime.create(settings)
    try:
        assert runtime.host.receipt_notifiers() == ["aliyun"]
    finally:
        await runtime.close()


async def test_a_notifier_without_receipts_needs_no_token(production_env: Path) -> None:
    runtime = Runtime.create(production_settings(production_env, notifiers=["devlog"]))
    try:
        assert runtime.host.receipt_notifiers() == []
    finally:
        await runtime.close()


def test_embedded_mode_does_not_insist_on_a_token(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, notifiers=["aliyun"], plugin_options=VENDOR_OPTIONS)
    PluginHost.create(settings).check_configuration()
