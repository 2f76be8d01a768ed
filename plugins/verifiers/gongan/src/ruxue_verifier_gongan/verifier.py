"""The 公安 verifier: hukou (户籍) and residence-permit (居住证) facts from the public
security data-sharing service, over signed JSON (see ``ruxue_core.sign_request``).

Options (``plugin_options.gongan``): ``base_url`` (default ``http://127.0.0.1:8701``, the
sandbox), ``app_key``, ``secret`` (set it from the environment in production,
``RUXUE_PLUGIN_OPTIONS__GONGAN__SECRET``) and ``timeout`` in seconds (default 5).

Faults worth retrying (timeouts, connection errors, HTTP 5xx and 429, malformed answers)
raise ``TemporaryPluginError``; refusals raise ``PermanentPluginError``. The plugin never
retries: the core does.
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

PLUGIN_NAME: Final = "gongan"
LABEL: Final = "公安"
DEFAULTS: Final[Mapping[str, object]] = {
    "base_url": "http://127.0.0.1:8701",
    "app_key": "ruxue-sandbox",
    "secret": "sandbox-secret",
}
ENDPOINTS: Final[Mapping[str, str]] = {
    Source.HUKOU: "/api/v1/hukou/query",
    Source.RESIDENCE_PERMIT: "/api/v1/residence-permit/query",
}
FACTS: Final[Mapping[str, Mapping[str, tuple[str, type]]]] = {
    Source.HUKOU: {
        "hukou_address": ("address", str),
        "township_code": ("township_code", str),
        "household_no": ("household", str),
        "relationship": ("relationship", str),
        "move_in_date": ("move_in_date", date),
    },
    Source.RESIDENCE_PERMIT: {
        "permit_address": ("address", str),
        "township_code": ("township_code", str),
        "issue_date": ("issue_date", date),
        "expiry_date": ("expiry_date", date),
    },
}
"""The department's fact names → ours; anything else it sends is dropped."""


class GonganVerifier(DepartmentVerifier):
    """Checks hukou and residence permits against the 公安 data-sharing service.

    :param transport: an httpx transport to use instead of the network (e.g. an ASGI app).
    """

    def __init__(
        self, options: DepartmentOptions, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(DepartmentClient(options, LABEL, transport=transport), ENDPOINTS, FACTS)

    @classmethod
    def from_settings(cls, config: Settings) -> GonganVerifier:
        """Build from ``plugin_options.gongan``; ``ConfigurationError`` if an option is bad."""
        return cls(DepartmentOptions.from_settings(config, PLUGIN_NAME, defaults=DEFAULTS))
