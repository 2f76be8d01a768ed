"""The case reporter: maps a canonical record onto the platform's interface, signs the request
and sends it; asks the platform for acknowledgements (回执).

Options (``plugin_options.hubei``): ``base_url`` (default: the sandbox platform at
``http://127.0.0.1:8702``), ``app_code``, ``app_secret`` (from the environment in production:
``RUXUE_PLUGIN_OPTIONS__HUBEI__APP_SECRET``), ``timeout`` in seconds (default 10), and the
field mapping (``mapping_file`` or ``mapping``; see :mod:`ruxue_platform_hubei.mapping`).

Timeouts, connection errors and HTTP 5xx/429 raise ``TemporaryPluginError``; a refused
signature raises ``PermanentPluginError``; a record the platform refuses is a ``REJECTED``
receipt with the platform's message. Nothing here retries, orders or re-pushes: the core does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from ruxue_core import (
    CaseRecordPush,
    CaseRecordRef,
    ConfigurationError,
    PermanentPluginError,
    PushOutcome,
    PushReceipt,
    Settings,
    TemporaryPluginError,
)
from ruxue_platform_hubei.mapping import CaseMapping, load_mapping

PLUGIN_NAME: Final = "hubei"
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8702"
DEFAULT_APP_CODE: Final = "ruxue-sandbox"
DEFAULT_APP_SECRET: Final = "sandbox-platform-secret"  # noqa: S105 - the sandbox's
DEFAULT_TIMEOUT: Final = 10.0


def sign(secret: str, app_code: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``app_code``, ``timestamp``, ``nonce`` and the body's SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join((app_code, timestamp, nonce, digest)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class HubeiCaseReporter:
    """Pushes case records to the Hubei platform over signed HTTP.

    :param transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_code: str,
        app_secret: str,
        mapping: CaseMapping,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_code = app_code
        self._secret = app_secret
        self.mapping = mapping
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> HubeiCaseReporter:
        """Build from ``plugin_options.hubei``.

        :raises ConfigurationError: production without a secret, or a bad mapping.
        """
        options = settings.options_for(PLUGIN_NAME)
        secret = options.get("app_secret")
        if secret is None and not settings.embedded:
            raise ConfigurationError(
                "生产模式须通过环境变量 RUXUE_PLUGIN_OPTIONS__HUBEI__APP_SECRET 提供办件回传密钥"
            )
        return cls(
            base_url=str(options.get("base_url", DEFAULT_BASE_URL)),
            app_code=str(options.get("app_code", DEFAULT_APP_CODE)),
            app_secret=str(secret or DEFAULT_APP_SECRET),
            mapping=load_mapping(options),
            timeout=float(options.get("timeout", DEFAULT_TIMEOUT)),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, transport=self._transport
            )
        return self._client

    async def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        stamp, nonce = str(int(time.time())), secrets.token_hex(8)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-App-Code": self.app_code,
            "X-Timestamp": stamp,
            "X-Nonce": nonce,
            "X-Signature": sign(self._secret, self.app_code, stamp, nonce, body),
        }
        try:
            response = await self._http().post(path, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise TemporaryPluginError(f"省平台不可达：{type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryPluginError(f"省平台暂时不可用（HTTP {response.status_code}）")
        if response.status_code in (401, 403):
            raise PermanentPluginError("省平台拒绝了应用编码或签名，请检查配置")
        try:
            data = response.json()
        except ValueError:
            raise TemporaryPluginError("省平台返回了无法解析的应答") from None
        if not isinstance(data, dict):
            raise TemporaryPluginError("省平台返回了无法解析的应答")
        data["_http_status"] = response.status_code
        return data

    def _receipt(self, data: Mapping[str, Any]) -> PushReceipt:
        transport = self.mapping.transport
        word = data.get(transport.status_field)
        status = transport.statuses.get(str(word)) if word is not None else None
        message = data.get(transport.message_field)
        reason = str(message) if message is not None else None
        if status is None:
            if int(data.get("_http_status", 200)) >= 400:
                return PushReceipt(PushOutcome.REJECTED, reason=reason or "省平台拒收")
            raise TemporaryPluginError("省平台应答缺少状态")
        outcome = PushOutcome(status)
        return PushReceipt(outcome, reason=reason if outcome is PushOutcome.REJECTED else None)

    async def push(self, record: CaseRecordPush) -> PushReceipt:
        """Map, sign and send one record to the interface its kind goes to."""
        interface = self.mapping.interface_for(record.kind)
        path = self.mapping.transport.push_path.format(interface=interface)
        receipt = self._receipt(await self._post(path, self.mapping.render(record)))
        if receipt.outcome is PushOutcome.UNKNOWN:
            raise TemporaryPluginError("省平台未确认收到办件记录")
        return receipt

    async def acknowledgements(self, records: Sequence[CaseRecordRef]) -> list[PushReceipt]:
        """Ask the platform about each record (one query for all)."""
        if not records:
            return []
        transport = self.mapping.transport
        items = [
            {transport.receipt_field: r.receipt_no, transport.version_field: r.version}
            for r in records
        ]
        data = await self._post(transport.ack_path, {"items": items})
        answers = data.get("items")
        if not isinstance(answers, list) or len(answers) != len(records):
            raise TemporaryPluginError("省平台回执查询的应答条数不符")
        return [
            self._receipt(item) if isinstance(item, dict) else PushReceipt(PushOutcome.UNKNOWN)
            for item in answers
        ]

    async def aclose(self) -> None:
        """Close the HTTP client (safe to call again)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
