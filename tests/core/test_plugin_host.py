"""The plugin host: discovery, duplicate and unknown names, broken and blocked entry points,
the bundled dev identity provider, and hook-name validation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

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
)
from ruxue_core.domain.enums import MessageStatus, Role
from ruxue_core.errors import ConfigurationError
from ruxue_core.plugins.builtin import DevIdentityProvider, issue_dev_token
from ruxue_core.plugins.host import PluginHost, build_plugin_manager
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
    Principal("guardian-1", Role.GUARDIAN, "张三"),
    Principal("counter-1", Role.COUNTER_STAFF, "赵窗口", region_code="420704101"),
    Principal("reviewer-1", Role.SCHOOL_REVIEWER, "李老师", school_code="LK-YJ-01"),
    Principal("admin", Role.ADMIN),
]


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.role.value)
def test_dev_tokens_round_trip(tmp_path: Path, principal: Principal) -> None:
    settings = Settings(data_dir=tmp_path, identity_providers=["dev"])
    [(name, provider)] = PluginHost.create(settings).identity_providers()
    assert name == "dev"
    token = issue_dev_token(settings, principal)
    assert provider.authenticate(f"Bearer {token}") == principal


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_tampered_or_foreign_dev_tokens_are_rejected(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, identity_providers=["dev"])
    [(_, provider)] = PluginHost.create(settings).identity_providers()
    token = issue_dev_token(settings, PRINCIPALS[0])
    _, payload, signature = token.split(".")
    admin = issue_dev_token(settings, Principal("guardian-1", Role.ADMIN, "张三"))
    other_secret = settings.model_copy(update={"dev_token_secret": SecretStr("another-secret")})

    rejected = [
        f"Bearer dev.{_flip(payload, 3)}.{signature}",
        f"Bearer dev.{payload}.{_flip(signature, 0)}",
        f"Bearer dev.{admin.split('.')[1]}.{signature}",  # someone else's payload, our signature
        f"Bearer dev.{payload}.",
        f"Bearer dev.{payload}",
        f"Bearer {issue_dev_token(other_secret, PRINCIPALS[0])}",
        token,  # without the scheme
        f"Basic {token}",
        "",
    ]
    for header in rejected:
        assert provider.authenticate(header) is None, header
    assert provider.authenticate(f"Bearer {token}") == PRINCIPALS[0]


def test_production_does_not_offer_the_dev_provider(tmp_path: Path) -> None:
    production = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, identity_providers=["dev"])
    host = PluginHost.create(production)
    assert "dev" not in host.available()["identity_providers"]
    with pytest.raises(ConfigurationError) as caught:
        host.identity_providers()
    assert "dev" in caught.value.message


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
