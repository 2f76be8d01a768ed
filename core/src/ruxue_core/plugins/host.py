"""The plugin host: the only code that calls ``pm.hook.*``.

It builds the plugin manager on demand (never at import time), loads the entry points of
group ``ruxue`` (skipping a broken one with a clear log line), registers the bundled
defaults through the same hooks, rejects duplicate names and selects plugins by the names the
deployment configured.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Final, Protocol, TypeVar

import pluggy

from ruxue_core.domain.enums import Role
from ruxue_core.errors import ConfigurationError
from ruxue_core.plugins import hookspecs
from ruxue_core.plugins.contracts import (
    CaseReporter,
    IdentityProvider,
    Notifier,
    Verifier,
)
from ruxue_core.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ruxue"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


R = TypeVar("R", bound=_Named)


def build_plugin_manager(
    settings: Settings, *, extra_plugins: Iterable[object] = (), load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A plugin manager with Ruxue's hookspecs, the bundled defaults and installed plugins.

    :param extra_plugins: objects or modules to register too (tests use this).
    :param load_entry_points: whether to load installed distributions' entry points.
    """
    from ruxue_core.plugins import builtin  # bundled defaults, registered like any plugin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in settings.blocked_plugins:
        pm.set_blocked(name)
    pm.register(builtin, name="ruxue.builtin")
    if load_entry_points:
        _load_entry_points(pm)
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(f"插件实现了未定义的钩子：{exc}") from None
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception:
            log.exception(
                "skipping plugin entry point %r (%s): it failed to load", ep.name, ep.value
            )
            continue
        pm.register(plugin, name=ep.name)
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            pm.unregister(plugin)
            log.error("skipping plugin entry point %r (%s): %s", ep.name, ep.value, exc)


@dataclass(frozen=True, slots=True)
class SelectedVerifier:
    """A configured verifier instance and the sources it answers."""

    name: str
    sources: tuple[str, ...]
    verifier: Verifier


@dataclass(frozen=True, slots=True)
class SelectedIdentityProvider:
    """A configured identity provider and the roles it may vouch for."""

    name: str
    roles: frozenset[Role]
    provider: IdentityProvider


class PluginHost:
    """Typed façade over the plugin manager: registrations in, selected instances out."""

    def __init__(self, settings: Settings, pm: pluggy.PluginManager) -> None:
        self.settings = settings
        self._pm = pm
        self._verifier_regs = _unique(
            _flatten(pm.hook.ruxue_verifiers(config=settings)), "verifier"
        )
        self._notifier_regs = _unique(
            _flatten(pm.hook.ruxue_notifiers(config=settings)), "notifier"
        )
        self._reporter_regs = _unique(
            _flatten(pm.hook.ruxue_case_reporters(config=settings)), "case reporter"
        )
        self._idp_regs = _unique(
            _flatten(pm.hook.ruxue_identity_providers(config=settings)), "identity provider"
        )
        self._verifiers: list[SelectedVerifier] | None = None
        self._notifiers: list[tuple[str, Notifier]] | None = None
        self._reporters: list[tuple[str, CaseReporter]] | None = None
        self._idps: list[SelectedIdentityProvider] | None = None
        self._logins: list[SelectedIdentityProvider] | None = None

    @classmethod
    def create(cls, settings: Settings, *, extra_plugins: Iterable[object] = ()) -> PluginHost:
        """Build the manager, load plugins and collect their registrations."""
        return cls(settings, build_plugin_manager(settings, extra_plugins=extra_plugins))

    # -- what is available ----------------------------------------------------------------

    @property
    def plugin_names(self) -> list[str]:
        """Names of every registered plugin module (for diagnostics)."""
        return sorted(name for name, _ in self._pm.list_name_plugin())

    def available(self) -> dict[str, list[str]]:
        """Registered names by kind: what a deployment may configure."""
        return {
            "verifiers": sorted(self._verifier_regs),
            "notifiers": sorted(self._notifier_regs),
            "case_reporters": sorted(self._reporter_regs),
            "identity_providers": sorted(self._idp_regs),
        }

    # -- what is configured ---------------------------------------------------------------

    def verifiers(self) -> list[SelectedVerifier]:
        """The configured verifiers, in configured order, built on first use."""
        if self._verifiers is None:
            regs = _select(self._verifier_regs, self.settings.verifiers, "verifiers")
            self._verifiers = [
                SelectedVerifier(r.name, r.sources, r.factory(self.settings)) for r in regs
            ]
        return self._verifiers

    def verifier_for(self, source: str) -> SelectedVerifier | None:
        """The first configured verifier answering ``source``, if any."""
        return next((v for v in self.verifiers() if source in v.sources), None)

    def notifiers(self) -> list[tuple[str, Notifier]]:
        """The configured notifiers in failover order, built on first use."""
        if self._notifiers is None:
            regs = _select(self._notifier_regs, self.settings.notifiers, "notifiers")
            self._notifiers = [(r.name, r.factory(self.settings)) for r in regs]
        return self._notifiers

    def receipt_notifiers(self) -> list[str]:
        """The configured notifiers whose vendor pushes delivery receipts to the gateway."""
        regs = _select(self._notifier_regs, self.settings.notifiers, "notifiers")
        return [r.name for r in regs if r.receipts]

    def notifier(self, name: str) -> Notifier | None:
        """One configured notifier by vendor name (for delivery-receipt callbacks)."""
        return dict(self.notifiers()).get(name)

    def case_reporters(self) -> list[tuple[str, CaseReporter]]:
        """The configured provincial case reporter (at most one), built on first use.

        :raises ConfigurationError: more than one is configured (a district pushes its cases
            to one platform, and acknowledgements are tracked per record).
        """
        if self._reporters is None:
            if len(self.settings.case_reporters) > 1:
                raise ConfigurationError(
                    "配置项 case_reporters（环境变量 RUXUE_CASE_REPORTERS）最多指定一个办件回传插件"
                )
            regs = _select(self._reporter_regs, self.settings.case_reporters, "case_reporters")
            self._reporters = [(r.name, r.factory(self.settings)) for r in regs]
        return self._reporters

    def identity_providers(self) -> list[SelectedIdentityProvider]:
        """The configured identity providers, tried in order."""
        if self._idps is None:
            names = self.settings.selected_identity_providers
            regs = _select(self._idp_regs, names, "identity_providers")
            self._idps = [
                SelectedIdentityProvider(r.name, r.roles, r.factory(self.settings)) for r in regs
            ]
        return self._idps

    def login_providers(self) -> list[SelectedIdentityProvider]:
        """The identity providers guardians sign in through (``guardian_auth.login_providers``),
        built on first use; each must be registered for the guardian role.

        :raises ConfigurationError: a name that is not installed, or not for guardians.
        """
        if self._logins is None:
            names = self.settings.guardian_auth.login_providers
            regs = _select(self._idp_regs, names, "guardian_auth.login_providers")
            for registration in regs:
                if Role.GUARDIAN not in registration.roles:
                    raise ConfigurationError(
                        f"配置项 guardian_auth.login_providers 中的 {registration.name} "
                        "不能为监护人登录"
                    )
            self._logins = [
                SelectedIdentityProvider(r.name, r.roles, r.factory(self.settings)) for r in regs
            ]
        return self._logins

    def login_provider(self, name: str) -> SelectedIdentityProvider | None:
        """One configured login provider by name."""
        return next((p for p in self.login_providers() if p.name == name), None)

    def check_configuration(self) -> None:
        """Build every configured plugin now, so that a deployment fails at start, naming the
        setting, rather than on the first request that needs the plugin.

        :raises ConfigurationError: a configured plugin is not installed, production has
            no identity provider, or guardians could sign in but their sessions would not be
            accepted.
        """
        self.verifiers()
        self.notifiers()
        self.case_reporters()
        if not self.settings.embedded and self.receipt_notifiers():
            check_receipt_token(self.settings)
        if self.login_providers() and "guardian" not in self.settings.selected_identity_providers:
            raise ConfigurationError(
                "配置了 guardian_auth.login_providers 时，identity_providers（环境变量 "
                "RUXUE_IDENTITY_PROVIDERS）须包含 guardian（监护人会话）"
            )
        if not self.identity_providers() and not self.settings.embedded:
            raise ConfigurationError(
                "生产模式至少需要配置一个身份认证插件（RUXUE_IDENTITY_PROVIDERS）"
            )

    async def aclose(self) -> None:
        """Close every instance that was built."""
        for selected in self._verifiers or []:
            await selected.verifier.aclose()
        for _, notifier in self._notifiers or []:
            await notifier.aclose()
        for _, reporter in self._reporters or []:
            await reporter.aclose()
        for chosen in [*(self._idps or []), *(self._logins or [])]:
            close = getattr(chosen.provider, "aclose", None)
            closing = close() if callable(close) else None
            if inspect.isawaitable(closing):
                await closing


RECEIPT_TOKEN_MIN_LENGTH: Final = 32
RECEIPT_TOKEN_ALPHABET: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


def check_receipt_token(settings: Settings) -> None:
    """Refuse a missing or guessable delivery-receipt path token (production, receipts on).

    Neither vendor signs its callbacks: the token is the only guard, so it must be long,
    URL-safe and not a repeated pattern (at least 32 characters of ``[A-Za-z0-9_-]`` with
    at least 12 distinct ones, as ``secrets.token_urlsafe(32)`` gives).

    :raises ConfigurationError: naming ``RUXUE_SMS__RECEIPT_TOKEN``.
    """
    hint = "（可用 python -c 'import secrets; print(secrets.token_urlsafe(32))' 生成）"
    secret = settings.sms.receipt_token
    if secret is None:
        raise ConfigurationError(
            "生产模式启用了带回执的短信服务商，必须通过环境变量 RUXUE_SMS__RECEIPT_TOKEN "
            f"提供回执地址口令{hint}"
        )
    token = secret.get_secret_value()
    if (
        len(token) < RECEIPT_TOKEN_MIN_LENGTH
        or not set(token) <= RECEIPT_TOKEN_ALPHABET
        or len(set(token)) < 12
    ):
        raise ConfigurationError(
            "RUXUE_SMS__RECEIPT_TOKEN 强度不足：须为至少 32 个字母、数字、- 或 _ 组成的随机串"
            f"{hint}"
        )


def _flatten(results: Sequence[Iterable[R]]) -> list[R]:
    return [registration for batch in results for registration in batch]


def _unique(registrations: list[R], kind: str) -> dict[str, R]:
    by_name: dict[str, R] = {}
    for registration in registrations:
        if registration.name in by_name:
            raise ConfigurationError(f"插件名称重复：两个{kind}都叫 {registration.name!r}")
        by_name[registration.name] = registration
    return by_name


def _select(registrations: dict[str, R], names: Sequence[str], setting: str) -> list[R]:
    unknown = [name for name in names if name not in registrations]
    if unknown:
        valid = ", ".join(sorted(registrations)) or "（无）"
        raise ConfigurationError(
            f"配置项 {setting}（环境变量 RUXUE_{setting.upper().replace('.', '__')}）中的插件 "
            f"{', '.join(unknown)} 未安装；可用的有：{valid}"
        )
    return [registrations[name] for name in names]
