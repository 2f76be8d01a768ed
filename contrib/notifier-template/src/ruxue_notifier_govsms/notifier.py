"""A government SMS platform over HTTP (a template to adapt to a real platform).

The platform's API as assumed here:

- ``POST {base_url}/api/sms/send`` with ``Authorization: Bearer <token>`` and JSON
  ``{"mobile", "signName", "templateId", "params", "bizId"}``; ``bizId`` is Ruxue's message
  id (the correlation field, echoed in receipts). Answer ``{"code": "0000", "msgId": …}``
  or an error code (:data:`RESULT_CODES`).
- Status query: ``GET {base_url}/api/sms/status/{bizId}`` answers ``{"code": "0000",
  "msgId", "status": "SENT" | "DELIVRD" | "UNDELIV"}`` or ``{"code": "3001"}`` when the
  platform never took that ``bizId``.
- Delivery receipts: ``POST`` to Ruxue's callback with ``{"reports": [{"msgId", "bizId",
  "status": "DELIVRD" | "UNDELIV", "errCode", "desc"}]}``.

Options (``plugin_options.govsms``; the token from ``RUXUE_PLUGIN_OPTIONS__GOVSMS__TOKEN``):
``base_url``, ``token``, ``sign_name``, ``templates`` (Ruxue template code → platform
template id), ``timeout_seconds`` (default: the core's plugin timeout).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import httpx

from ruxue_core import (
    ConfigurationError,
    MessageStatus,
    PermanentPluginError,
    Settings,
    SmsReceipt,
    SmsRequest,
    TemporaryPluginError,
)

PLUGIN_NAME: Final = "govsms"
RESULT_CODES: Final[Mapping[str, MessageStatus]] = {
    "0000": MessageStatus.ACCEPTED,
    "1001": MessageStatus.TEMPORARY_FAILURE,  # 流量控制
    "1002": MessageStatus.TEMPORARY_FAILURE,  # 系统繁忙
    "2001": MessageStatus.PERMANENT_FAILURE,  # 号码格式错误
    "2002": MessageStatus.PERMANENT_FAILURE,  # 模板不存在或未审核
    "2003": MessageStatus.PERMANENT_FAILURE,  # 号码在黑名单
}
"""The platform's result codes onto Ruxue's vocabulary; unknown codes count as permanent."""


def result_status(code: str) -> MessageStatus:
    """Map one result code (see :data:`RESULT_CODES`)."""
    return RESULT_CODES.get(code, MessageStatus.PERMANENT_FAILURE)


class GovSmsNotifier:
    """Sends each SMS with one HTTP call; parses the platform's receipt callbacks."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        sign_name: str,
        templates: Mapping[str, str],
        timeout_seconds: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.sign_name = sign_name
        self.templates = dict(templates)
        self.timeout_seconds = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> GovSmsNotifier:
        """Build from ``plugin_options.govsms``; :raises ConfigurationError: naming what."""
        options = config.options_for(PLUGIN_NAME)
        missing = [k for k in ("base_url", "token", "sign_name") if not options.get(k)]
        if missing:
            names = "、".join(f"plugin_options.govsms.{k}" for k in missing)
            raise ConfigurationError(f"政务短信平台未配置 {names}")
        templates = options.get("templates") or {}
        if not isinstance(templates, Mapping):
            raise ConfigurationError("plugin_options.govsms.templates 应为 模板代码 → 平台模板编号")
        return cls(
            str(options["base_url"]),
            str(options["token"]),
            sign_name=str(options["sign_name"]),
            templates={str(k): str(v) for k, v in templates.items()},
            timeout_seconds=float(options.get("timeout_seconds", config.plugin_timeout_seconds)),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout_seconds,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        return self._client

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Send one SMS; ``accepted`` with the platform's id, or a failure with its code.

        :raises TemporaryPluginError: the platform could not be reached or answered 5xx.
        :raises PermanentPluginError: no platform template for this Ruxue template.
        """
        template = self.templates.get(request.template)
        if template is None:
            raise PermanentPluginError(f"政务短信平台未配置模板 {request.template}")
        client = self._http()
        body = {
            "mobile": request.phone,
            "signName": self.sign_name,
            "templateId": template,
            "params": dict(request.params),
            "bizId": request.message_id,
        }
        try:
            response = await client.post("/api/sms/send", json=body)
        except httpx.HTTPError as exc:
            raise TemporaryPluginError(f"政务短信平台不可达：{type(exc).__name__}") from None
        if response.status_code >= 500:
            raise TemporaryPluginError(f"政务短信平台返回 HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise TemporaryPluginError("政务短信平台拒绝了令牌")
        try:
            answer = response.json()
            code = str(answer["code"])
        except (ValueError, KeyError, TypeError):
            raise TemporaryPluginError("政务短信平台应答无法解析") from None
        return SmsReceipt(
            status=result_status(code),
            vendor_message_id=str(answer.get("msgId") or "") or None,
            vendor_code=code,
            detail=None if code == "0000" else str(answer.get("msg") or ""),
            message_id=request.message_id,
        )

    async def query_status(self, request: SmsRequest, sent_at: datetime) -> SmsReceipt | None:
        """Ask the platform about ``request.message_id`` (its ``bizId``); the optional
        ``query_status`` hook the core calls before failing over a timed-out send.

        :return: the platform's record as a receipt, or ``None`` when it never took it.
        :raises TemporaryPluginError: the platform cannot be asked now.
        """
        del sent_at  # this platform looks messages up by bizId alone
        client = self._http()
        try:
            response = await client.get(f"/api/sms/status/{request.message_id}")
            answer = response.json()
            code = str(answer["code"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            raise TemporaryPluginError("政务短信平台状态查询失败") from None
        if response.status_code >= 400:
            raise TemporaryPluginError(f"政务短信平台状态查询返回 HTTP {response.status_code}")
        if code == "3001":
            return None
        status = {
            "DELIVRD": MessageStatus.DELIVERED,
            "UNDELIV": MessageStatus.PERMANENT_FAILURE,
        }.get(str(answer.get("status")), MessageStatus.ACCEPTED)
        return SmsReceipt(
            status=status,
            vendor_message_id=str(answer.get("msgId") or "") or None,
            vendor_code=str(answer.get("status") or code),
            message_id=request.message_id,
        )

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        """Parse a receipt callback; :raises PermanentPluginError: when it is malformed."""
        try:
            reports = json.loads(body)["reports"]
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            raise PermanentPluginError("政务短信平台回执格式错误") from None
        if not isinstance(reports, list):
            raise PermanentPluginError("政务短信平台回执 reports 应为数组")
        receipts: list[SmsReceipt] = []
        for report in reports:
            if not isinstance(report, dict) or not isinstance(report.get("msgId"), str):
                raise PermanentPluginError("政务短信平台回执缺少 msgId")
            delivered = report.get("status") == "DELIVRD"
            biz_id = report.get("bizId")
            receipts.append(
                SmsReceipt(
                    status=MessageStatus.DELIVERED
                    if delivered
                    else MessageStatus.PERMANENT_FAILURE,
                    vendor_message_id=report["msgId"],
                    vendor_code=str(report.get("errCode") or report.get("status") or ""),
                    detail=None if delivered else str(report.get("desc") or ""),
                    message_id=biz_id if isinstance(biz_id, str) else None,
                )
            )
        return receipts

    async def aclose(self) -> None:
        """Close the HTTP client; safe to call more than once."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
