"""Ruxue's Hubei platform plugin: case-data push to the provincial platform (办件数据回传,
interfaces "4.2.1"/"4.2.2" by configuration) and guardians' unified login (政务服务网统一身份认证,
OpenID Connect, the 鄂汇办 in-app token). It imports only the ``ruxue_core`` top-level API."""

from ruxue_platform_hubei.ehb import EhbIdentityProvider
from ruxue_platform_hubei.mapping import CaseMapping, default_mapping_data, load_mapping
from ruxue_platform_hubei.oidc import OidcIdentityProvider
from ruxue_platform_hubei.portal import PortalIdentityProvider
from ruxue_platform_hubei.reporter import HubeiCaseReporter

__all__ = [
    "CaseMapping",
    "EhbIdentityProvider",
    "HubeiCaseReporter",
    "OidcIdentityProvider",
    "PortalIdentityProvider",
    "default_mapping_data",
    "load_mapping",
]
