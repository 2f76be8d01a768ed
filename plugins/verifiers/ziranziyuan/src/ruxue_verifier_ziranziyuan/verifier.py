"""The 自然资源 verifier: real-estate registration (不动产登记) facts about a guardian.

Options (``plugin_options.ziranziyuan``): ``base_url`` (default ``http://127.0.0.1:8702``,
the sandbox), ``app_key``, ``secret`` (from the environment in production,
``RUXUE_PLUGIN_OPTIONS__ZIRANZIYUAN__SECRET``) and ``timeout`` in seconds (default 5).

A 不动产权证书 and a 不动产登记证明 both count (annex 1); ``certificate`` says which one the
registration is. Faults map onto the plugin errors as in every bundled verifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

import httpx

from ruxue_core import (
    DepartmentClient,
    DepartmentOptions,
    DepartmentVerifier,
    Settings,
    Source,
)

PLUGIN_NAME: Final = "ziranziyuan"
LABEL: Final = "自然资源"
DEFAULTS: Final[Mapping[str, object]] = {
    "base_url": "http://127.0.0.1:8702",
    "app_key": "ruxue-sandbox",
    "secret": "sandbox-secret",
}
ENDPOINTS: Final[Mapping[str, str]] = {Source.PROPERTY: "/api/v1/property/query"}
FACTS: Final[Mapping[str, Mapping[str, tuple[str, type]]]] = {
    Source.PROPERTY: {
        "property_address": ("address", str),
        "township_code": ("township_code", str),
        "use": ("use", str),
        "share": ("share", str),
        "registration_date": ("registration_date", date),
        "certificate_kind": ("certificate", str),
        "unit_no": ("unit", str),
    },
}
"""The department's fact names → ours; anything else it sends (owners, co-owners, area,
price, mortgage) is dropped."""


class PropertyVerifier(DepartmentVerifier):
    """Checks a guardian's real-estate registration against the 自然资源 service.

    :param transport: an httpx transport to use instead of the network (e.g. an ASGI app).
    """

    def __init__(
        self, options: DepartmentOptions, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(DepartmentClient(options, LABEL, transport=transport), ENDPOINTS, FACTS)

    @classmethod
    def from_settings(cls, config: Settings) -> PropertyVerifier:
        """Build from ``plugin_options.ziranziyuan``; ``ConfigurationError`` if bad."""
        return cls(DepartmentOptions.from_settings(config, PLUGIN_NAME, defaults=DEFAULTS))
