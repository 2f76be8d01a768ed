"""The 人社 verifier: social-insurance facts about a guardian (社保缴费).

Options (``plugin_options.renshe``): ``base_url`` (default ``http://127.0.0.1:8703``, the
sandbox), ``app_key``, ``secret`` (from the environment in production,
``RUXUE_PLUGIN_OPTIONS__RENSHE__SECRET``) and ``timeout`` in seconds (default 5).

Both schemes count: ``scheme`` is ``resident`` (城乡居民) or ``employee`` (城镇职工);
``months`` is the months paid from the request's ``window_start`` on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import httpx

from ruxue_core import (
    DepartmentClient,
    DepartmentOptions,
    DepartmentVerifier,
    Settings,
    Source,
)

PLUGIN_NAME: Final = "renshe"
LABEL: Final = "人社"
DEFAULTS: Final[Mapping[str, object]] = {
    "base_url": "http://127.0.0.1:8703",
    "app_key": "ruxue-sandbox",
    "secret": "sandbox-secret",
}
ENDPOINTS: Final[Mapping[str, str]] = {Source.SOCIAL_INSURANCE: "/api/v1/social-insurance/query"}
FACTS: Final[Mapping[str, Mapping[str, tuple[str, type]]]] = {
    Source.SOCIAL_INSURANCE: {
        "scheme": ("scheme", str),
        "months_paid": ("months", int),
    },
}
"""The department's fact names → ours; employer, wages and payment history are dropped."""


class SocialInsuranceVerifier(DepartmentVerifier):
    """Checks a guardian's social-insurance payments against the 人社 service.

    :param transport: an httpx transport to use instead of the network (e.g. an ASGI app).
    """

    def __init__(
        self, options: DepartmentOptions, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(DepartmentClient(options, LABEL, transport=transport), ENDPOINTS, FACTS)

    @classmethod
    def from_settings(cls, config: Settings) -> SocialInsuranceVerifier:
        """Build from ``plugin_options.renshe``; ``ConfigurationError`` if an option is bad."""
        return cls(DepartmentOptions.from_settings(config, PLUGIN_NAME, defaults=DEFAULTS))
