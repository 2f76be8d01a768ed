"""A kit for verifiers of departments' data-sharing services: signed JSON over HTTP.

:class:`DepartmentClient` posts one signed query (see :mod:`ruxue_core.signing`) and maps
transport faults onto the plugin error classes; :func:`result_from_answer` turns a service's
answer into a :class:`VerificationResult`, keeping only the facts the contract allows. The
bundled verifiers use both; a city's own verifier may too, or do it its own way.

The answer a service gives (the sandbox speaks it)::

    {"request_id": "...", "result": "found" | "not_found" | "name_mismatch" | "ambiguous",
     "record_id": "...", "facts": {...}, "message": "..."}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import httpx

from ruxue_core.domain.enums import Outcome
from ruxue_core.errors import ConfigurationError, PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import EvidenceRef, VerificationRequest, VerificationResult
from ruxue_core.settings import Settings
from ruxue_core.signing import RequestContext, sign_request

RESULTS: Final[Mapping[str, Outcome]] = {
    "found": Outcome.MATCH,
    "not_found": Outcome.NOT_FOUND,
    "name_mismatch": Outcome.MISMATCH,
    "ambiguous": Outcome.NEEDS_MANUAL_REVIEW,
}
"""A service's answer → the outcome: found (the facts follow), no such record, the name does
not belong to the ID number (a contradiction), or a record the data cannot decide on."""

Fact = str | int | bool | date | None


@dataclass(frozen=True, slots=True)
class DepartmentOptions:
    """Where a department's service is and the app's credentials there.

    Read from ``plugin_options.<plugin>``: ``base_url``, ``app_key``, ``secret`` (from the
    environment in production: ``RUXUE_PLUGIN_OPTIONS__<PLUGIN>__SECRET``) and ``timeout``.
    """

    base_url: str
    app_key: str
    secret: str
    timeout: float = 5.0

    @classmethod
    def from_settings(
        cls, settings: Settings, plugin: str, *, defaults: Mapping[str, Any] | None = None
    ) -> DepartmentOptions:
        """Validated options for ``plugin``; ``ConfigurationError`` names the bad one."""
        options = dict(defaults or {}) | settings.options_for(plugin)
        base_url, key, secret = (options.get(k) for k in ("base_url", "app_key", "secret"))
        timeout = options.get("timeout", 5.0)
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"核验插件 {plugin} 的 base_url 应为 http(s) 地址")
        for name, value in (("app_key", key), ("secret", secret)):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"核验插件 {plugin} 缺少 {name}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError(f"核验插件 {plugin} 的 timeout 应为正数（秒）")
        assert isinstance(key, str) and isinstance(secret, str)
        return cls(base_url.rstrip("/"), key, secret, float(timeout))


POOL_CONNECTIONS: Final = 100
"""Connections kept open to one department service (more than any per-source limit)."""
KEEPALIVE_SECONDS: Final = 30.0


def network_session(timeout: float) -> aiohttp.ClientSession:
    """The HTTP session to a department over the network: aiohttp, connections kept alive
    and reused by every query. httpx with its own pool (httpcore) cost a dozen times the CPU
    per request (a readability probe of every pooled connection on each request), which made
    the worker's CPU, not the departments' latency, the limit of verification."""
    connector = aiohttp.TCPConnector(limit=POOL_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False
    )


class DepartmentClient:
    """Signed JSON queries to one department service. Over the network it keeps one
    session whose connections are reused by every query (see :func:`network_session`); given
    an httpx transport (an in-process ASGI app, a mock) it sends through that instead.

    :param label: the department's name for error messages (e.g. ``公安``).
    :param transport: an httpx transport to use instead of the network (an ASGI app).
    """

    def __init__(
        self,
        options: DepartmentOptions,
        label: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options
        self.label = label
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._base = options.base_url.rstrip("/")
        self._prefix = urlsplit(self._base).path

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body`` to ``path``; the status and the body of the answer."""
        if self._transport is not None:
            if self._client is None:
                self._client = httpx.AsyncClient(
                    base_url=self.options.base_url,
                    timeout=self.options.timeout,
                    transport=self._transport,
                )
            response = await self._client.post(path, content=body, headers=headers)
            return response.status_code, response.content
        if self._session is None:
            self._session = network_session(self.options.timeout)
        async with self._session.post(self._base + path, data=body, headers=headers) as answer:
            return answer.status, await answer.read()

    async def query(self, path: str, payload: Mapping[str, Any], context: RequestContext) -> Any:
        """POST ``payload`` to ``path``, signed; return the decoded JSON answer.

        :raises TemporaryPluginError: timeouts, connection faults, HTTP 5xx/429, malformed
            answers (a relay's glitch is worth another try).
        :raises PermanentPluginError: refused credentials or request (HTTP 4xx).
        """
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = sign_request(
            app_key=self.options.app_key,
            secret=self.options.secret,
            method="POST",
            path=self._prefix + path,
            body=body,
            context=context,
        )
        headers["Content-Type"] = "application/json"
        try:
            status, content = await self._post(path, body, headers)
        except (
            TimeoutError,
            aiohttp.ClientError,
            httpx.TimeoutException,
            httpx.NetworkError,
            httpx.RemoteProtocolError,
        ) as exc:
            raise TemporaryPluginError(
                f"{self.label}数据共享服务连接失败：{type(exc).__name__}"
            ) from exc
        except httpx.HTTPError as exc:
            raise PermanentPluginError(
                f"{self.label}数据共享服务请求无效：{type(exc).__name__}"
            ) from exc
        if status == 429 or status >= 500:
            raise TemporaryPluginError(f"{self.label}数据共享服务暂时不可用（HTTP {status}）")
        if status in (401, 403):
            raise PermanentPluginError(f"{self.label}数据共享服务拒绝了签名或凭据（HTTP {status}）")
        if status != 200:
            raise PermanentPluginError(f"{self.label}数据共享服务拒绝了请求（HTTP {status}）")
        try:
            return json.loads(content)
        except ValueError:
            raise TemporaryPluginError(f"{self.label}数据共享服务返回的内容不是 JSON") from None

    async def aclose(self) -> None:
        """Close the HTTP client or session, if one was opened; safe to call more than once."""
        client, self._client = self._client, None
        session, self._session = self._session, None
        if client is not None:
            await client.aclose()
        if session is not None:
            await session.close()


def request_context(request: VerificationRequest) -> RequestContext:
    """The signed context headers of a verification request (X-Road style)."""
    return RequestContext(
        request_id=request.request_id,
        purpose=request.purpose,
        acting_user=request.acting_user,
        case_ref=request.case_ref,
        consent_ref=request.consent_ref,
    )


def result_from_answer(
    request: VerificationRequest,
    answer: Any,
    facts: Mapping[str, tuple[str, type]],
    *,
    label: str,
) -> VerificationResult:
    """The result for a service's answer, keeping only ``facts`` (their name → (ours, type);
    ``date`` values arrive as ISO strings).

    :raises TemporaryPluginError: the answer is malformed (worth asking again).
    """
    if not isinstance(answer, dict):
        raise TemporaryPluginError(f"{label}数据共享服务返回的内容格式不正确")
    result = answer.get("result")
    outcome = RESULTS.get(result) if isinstance(result, str) else None
    if outcome is None:
        raise TemporaryPluginError(f"{label}数据共享服务返回了未知结果 {result!r}")
    if answer.get("request_id") != request.request_id:
        raise TemporaryPluginError(f"{label}数据共享服务返回的请求编号与发出的不一致")
    record_id = answer.get("record_id")
    if record_id is not None and not isinstance(record_id, str):
        raise TemporaryPluginError(f"{label}数据共享服务返回的记录编号格式不正确")
    message = answer.get("message")
    kept = _facts(answer.get("facts"), facts, label) if outcome is Outcome.MATCH else {}
    return VerificationResult(
        outcome=outcome,
        evidence=EvidenceRef(request.request_id, datetime.now(UTC), record_id),
        facts=kept,
        reason=message[:200] if isinstance(message, str) and message else None,
    )


def _facts(raw: object, wanted: Mapping[str, tuple[str, type]], label: str) -> dict[str, Fact]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TemporaryPluginError(f"{label}数据共享服务返回的 facts 格式不正确")
    kept: dict[str, Fact] = {}
    for theirs, (ours, kind) in wanted.items():
        value = raw.get(theirs)
        if value is None:
            continue
        if kind is date:
            try:
                kept[ours] = date.fromisoformat(str(value))
            except ValueError:
                reason = f"{label}数据共享服务返回的 {theirs} 不是日期"
                raise TemporaryPluginError(reason) from None
        elif (
            isinstance(value, str | int) and not isinstance(value, bool) and isinstance(value, kind)
        ):
            kept[ours] = value
        else:
            raise TemporaryPluginError(f"{label}数据共享服务返回的 {theirs} 格式不正确")
    return kept


FactSpec = Mapping[str, tuple[str, type]]
"""A service's fact name → (Ruxue's fact name, its type)."""


class DepartmentVerifier:
    """A verifier for a service speaking the protocol above: one endpoint per source.

    It sends only what the department needs to find the record (ID number, name; the
    guardian's ID number for a child's hukou, to read the recorded relationship; the start
    of the counting window for social insurance), never the declared address.

    :param endpoints: source → URL path of its query endpoint.
    :param facts: source → the facts to keep from its answers.
    """

    def __init__(
        self,
        client: DepartmentClient,
        endpoints: Mapping[str, str],
        facts: Mapping[str, FactSpec],
    ) -> None:
        self.client = client
        self.endpoints = dict(endpoints)
        self.facts = dict(facts)

    async def verify(self, request: VerificationRequest) -> VerificationResult:
        """Query the department about one person and map its answer."""
        endpoint = self.endpoints.get(request.source)
        if endpoint is None:
            raise PermanentPluginError(
                f"{self.client.label}核验插件不支持数据源 {request.source!r}"
            )
        payload: dict[str, Any] = {"id_number": request.id_number, "name": request.name}
        if request.guardian_id_number:
            payload["guardian_id_number"] = request.guardian_id_number
        if request.window_start is not None:
            payload["window_start"] = request.window_start.isoformat()
        answer = await self.client.query(endpoint, payload, request_context(request))
        return result_from_answer(
            request, answer, self.facts[request.source], label=self.client.label
        )

    async def aclose(self) -> None:
        """Close the HTTP client; safe to call more than once."""
        await self.client.aclose()


def _of_kind(value: object, kind: type) -> bool:
    """Whether ``value`` is a ``kind`` (a bool is not an int here)."""
    return isinstance(value, kind) and not isinstance(value, bool)
