"""The 公安 verifier: posts one check to the department's data-sharing API and maps the answer.

Options (``plugin_options.gongan``): ``base_url`` (default ``http://127.0.0.1:8701``, the
sandbox), ``api_key`` (default ``sandbox-key``; set it from the environment in production,
``RUXUE_PLUGIN_OPTIONS__GONGAN__API_KEY``) and ``timeout`` in seconds (default 5).

Faults worth retrying (timeouts, connection errors, HTTP 5xx and 429) raise
``TemporaryPluginError``; everything else that goes wrong raises ``PermanentPluginError``.
The plugin never retries: the core does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

import httpx

from ruxue_core import (
    ConfigurationError,
    EvidenceRef,
    Outcome,
    PermanentPluginError,
    Settings,
    Source,
    TemporaryPluginError,
    VerificationRequest,
    VerificationResult,
)

log = logging.getLogger(__name__)

PLUGIN_NAME: Final = "gongan"
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8701"
DEFAULT_API_KEY: Final = "sandbox-key"
DEFAULT_TIMEOUT: Final = 5.0

ENDPOINTS: Final[Mapping[str, str]] = {
    Source.HUKOU: "/api/v1/hukou/verify",
    Source.RESIDENCE_PERMIT: "/api/v1/residence-permit/verify",
}

OUTCOMES: Final[Mapping[str, Outcome]] = {
    "match": Outcome.MATCH,
    "mismatch": Outcome.MISMATCH,
    "not_found": Outcome.NOT_FOUND,
    "undecidable": Outcome.NEEDS_MANUAL_REVIEW,
}

# The department's fact names → ours, and whether the value is an ISO date.
FACTS: Final[Mapping[str, Mapping[str, tuple[str, bool]]]] = {
    Source.HUKOU: {
        "hukou_address": ("address", False),
        "township_code": ("township_code", False),
        "move_in_date": ("move_in_date", True),
        "relationship": ("relationship", False),
    },
    Source.RESIDENCE_PERMIT: {
        "permit_address": ("address", False),
        "township_code": ("township_code", False),
        "issue_date": ("issue_date", True),
        "expiry_date": ("expiry_date", True),
    },
}

Fact = str | int | bool | date | None


class GonganVerifier:
    """Checks hukou and residence-permit claims against the 公安 data-sharing service.

    One ``httpx.AsyncClient`` is created on first use and closed by ``aclose``.

    :param transport: an httpx transport to use instead of the network (e.g. an ASGI app).
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = DEFAULT_API_KEY,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> GonganVerifier:
        """Build a verifier from ``plugin_options.gongan``; raise ``ConfigurationError`` if bad."""
        options = config.options_for(PLUGIN_NAME)
        base_url = options.get("base_url", DEFAULT_BASE_URL)
        api_key = options.get("api_key", DEFAULT_API_KEY)
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError("公安核验插件的 base_url 应为 http(s) 地址")
        if not isinstance(api_key, str) or not api_key:
            raise ConfigurationError("公安核验插件缺少 api_key")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError("公安核验插件的 timeout 应为正数（秒）")
        return cls(base_url=base_url, api_key=api_key, timeout=float(timeout))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers={"X-Api-Key": self._api_key},
                timeout=self.timeout,
                transport=self._transport,
            )
        return self._client

    async def verify(self, request: VerificationRequest) -> VerificationResult:
        """Check one claim; return the outcome, minimal facts and an evidence reference."""
        endpoint = ENDPOINTS.get(request.source)
        if endpoint is None:
            raise PermanentPluginError(f"公安核验插件不支持数据源 {request.source!r}")
        payload: dict[str, Any] = {
            "request_id": request.request_id,
            "id_number": request.id_number,
            "name": request.name,
            "claimed_address": request.claimed_address,
            "purpose": request.purpose,
        }
        if request.guardian_id_number:
            payload["guardian_id_number"] = request.guardian_id_number
        try:
            response = await self._http().post(
                endpoint, json=payload, headers={"X-Request-Id": request.request_id}
            )
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TemporaryPluginError(f"公安数据共享服务连接失败：{type(exc).__name__}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise PermanentPluginError(f"公安数据共享服务请求无效：{type(exc).__name__}") from exc
        checked_at = datetime.now(UTC)
        _raise_for_status(response)
        result = _parse(request, response, checked_at)
        log.debug(
            "gongan %s request %s: %s", request.source, request.request_id, result.outcome.value
        )
        return result

    async def aclose(self) -> None:
        """Close the HTTP client, if one was opened; safe to call more than once."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        return
    if status == 429 or status >= 500:
        raise TemporaryPluginError(f"公安数据共享服务暂时不可用（HTTP {status}）")
    if status in (401, 403):
        raise PermanentPluginError(f"公安数据共享服务拒绝了凭据（HTTP {status}），请检查 api_key")
    raise PermanentPluginError(f"公安数据共享服务拒绝了请求（HTTP {status}）")


def _parse(
    request: VerificationRequest, response: httpx.Response, checked_at: datetime
) -> VerificationResult:
    try:
        body = response.json()
    except ValueError:
        raise PermanentPluginError("公安数据共享服务返回的内容不是 JSON") from None
    if not isinstance(body, dict):
        raise PermanentPluginError("公安数据共享服务返回的内容格式不正确")
    answer = body.get("result")
    outcome = OUTCOMES.get(answer) if isinstance(answer, str) else None
    if outcome is None:
        raise PermanentPluginError(f"公安数据共享服务返回了未知结果 {answer!r}")
    if body.get("request_id") != request.request_id:
        raise PermanentPluginError("公安数据共享服务返回的请求编号与发出的不一致")
    record_id = body.get("record_id")
    if record_id is not None and not isinstance(record_id, str):
        raise PermanentPluginError("公安数据共享服务返回的记录编号格式不正确")
    message = body.get("message")
    return VerificationResult(
        outcome=outcome,
        evidence=EvidenceRef(
            request_id=request.request_id, checked_at=checked_at, source_record_id=record_id
        ),
        facts=_facts(request.source, body.get("facts")),
        reason=message if isinstance(message, str) and message else None,
    )


def _facts(source: str, raw: object) -> dict[str, Fact]:
    """Keep only the facts the rules need, under our names; drop anything else."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PermanentPluginError("公安数据共享服务返回的 facts 格式不正确")
    facts: dict[str, Fact] = {}
    for theirs, (ours, is_date) in FACTS[source].items():
        value = raw.get(theirs)
        if value is None:
            continue
        if not isinstance(value, str):
            raise PermanentPluginError(f"公安数据共享服务返回的 {theirs} 格式不正确")
        if is_date:
            try:
                facts[ours] = date.fromisoformat(value)
            except ValueError:
                raise PermanentPluginError(f"公安数据共享服务返回的 {theirs} 不是日期") from None
        else:
            facts[ours] = value
    return facts
