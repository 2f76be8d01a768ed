"""The verifier: ask the department about one person, keep only the facts the rules need.

Everything it imports comes from ``ruxue_core`` itself (the public plugin API). The kit does
the signing (HMAC-SHA256 over method, path, timestamp, nonce and body hash; request id,
purpose, acting user, case and consent as headers), maps HTTP faults onto
``TemporaryPluginError``/``PermanentPluginError`` and reads the answer. Retries, timeouts,
concurrency limits and the circuit breaker are the core's: do not add your own.

Options (``plugin_options.template-hukou``, env ``RUXUE_PLUGIN_OPTIONS__TEMPLATE-HUKOU__…``):
``base_url``, ``app_key``, ``secret`` (from the environment) and ``timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import httpx

from ruxue_core import (
    DepartmentClient,
    DepartmentOptions,
    PermanentPluginError,
    Settings,
    VerificationRequest,
    VerificationResult,
    request_context,
    result_from_answer,
)

PLUGIN_NAME: Final = "template-hukou"
SOURCE: Final = "hukou"
ENDPOINT: Final = "/api/v1/hukou/query"
FACTS: Final[Mapping[str, tuple[str, type]]] = {
    # the department's name → (Ruxue's fact name, type); everything else is dropped
    "hukou_address": ("address", str),
    "township_code": ("township_code", str),
    "household_no": ("household", str),
    "relationship": ("relationship", str),
    "move_in_date": ("move_in_date", date),
}


class TemplateVerifier:
    """Answers the ``hukou`` source from one department service.

    :param transport: an httpx transport instead of the network (tests: an ASGI app).
    """

    def __init__(
        self, options: DepartmentOptions, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.client = DepartmentClient(options, "户籍", transport=transport)

    @classmethod
    def from_settings(cls, config: Settings) -> TemplateVerifier:
        """Build from ``plugin_options.template-hukou``; ``ConfigurationError`` if bad."""
        return cls(DepartmentOptions.from_settings(config, PLUGIN_NAME))

    async def verify(self, request: VerificationRequest) -> VerificationResult:
        """Ask about one person; map the answer (found / not_found / name_mismatch /
        ambiguous) onto the outcome with the minimal facts and an evidence reference."""
        if request.source != SOURCE:
            raise PermanentPluginError(f"{PLUGIN_NAME} 不支持数据源 {request.source!r}")
        payload: dict[str, Any] = {"id_number": request.id_number, "name": request.name}
        if request.guardian_id_number:
            payload["guardian_id_number"] = request.guardian_id_number
        answer = await self.client.query(ENDPOINT, payload, request_context(request))
        return result_from_answer(request, answer, FACTS, label="户籍")

    async def aclose(self) -> None:
        """Close the HTTP client; safe to call twice."""
        await self.client.aclose()
