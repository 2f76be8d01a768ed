"""Hook implementations: the case reporter ``hubei`` and the login providers
``hubei_portal`` (政务服务网统一身份认证), ``hubei_oidc`` (OpenID Connect) and ``hubei_ehb``
(鄂汇办 in-app token), all for guardians only."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import (
    CaseReporterRegistration,
    IdentityProviderRegistration,
    Role,
    Settings,
    hookimpl,
)
from ruxue_platform_hubei import ehb, oidc, portal
from ruxue_platform_hubei.reporter import PLUGIN_NAME, HubeiCaseReporter

GUARDIANS = frozenset({Role.GUARDIAN})


@hookimpl
def ruxue_case_reporters(config: Settings) -> Iterable[CaseReporterRegistration]:
    """Register ``hubei``: 办件数据回传 to the provincial platform (no I/O here)."""
    return [
        CaseReporterRegistration(
            PLUGIN_NAME,
            HubeiCaseReporter.from_settings,
            "湖北省政务服务平台办件数据回传（4.2.1/4.2.2，字段映射可配置）",
        )
    ]


@hookimpl
def ruxue_identity_providers(config: Settings) -> Iterable[IdentityProviderRegistration]:
    """Register the three guardian login providers (no I/O here)."""
    return [
        IdentityProviderRegistration(
            portal.NAME,
            portal.PortalIdentityProvider.from_settings,
            "湖北政务服务网统一身份认证（票据登录）",
            GUARDIANS,
        ),
        IdentityProviderRegistration(
            oidc.NAME,
            oidc.OidcIdentityProvider.from_settings,
            "统一身份认证（OpenID Connect）",
            GUARDIANS,
        ),
        IdentityProviderRegistration(
            ehb.NAME, ehb.EhbIdentityProvider.from_settings, "鄂汇办 App 内登录令牌", GUARDIANS
        ),
    ]
