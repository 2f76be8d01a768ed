"""Alibaba Cloud SMS through the official SDK (``alibabacloud_dysmsapi20170525``).

Options (``plugin_options.aliyun``; the secret from the environment, as
``RUXUE_PLUGIN_OPTIONS__ALIYUN__ACCESS_KEY_SECRET``):

- ``access_key_id``, ``access_key_secret``: the RAM user's AccessKey.
- ``sign_name``: the approved signature (签名), e.g. ``临空经济区教育``.
- ``templates``: Ruxue template code → Alibaba Cloud template code, e.g.
  ``{RX_SUBMITTED = "SMS_300000001"}``; the template's variables are named as Ruxue's
  parameters (``${receipt_no}``, ``${child}``, ``${school}``…).
- ``endpoint`` (default ``dysmsapi.aliyuncs.com``), ``protocol`` (``https``; ``http`` for a
  local fake), ``region_id`` (``cn-hangzhou``), ``timeout_seconds`` (default: the core's
  plugin timeout), ``threads`` (concurrent SDK calls, default 8).

The SDK signs with ACS3-HMAC-SHA256 and blocks: each call runs in this notifier's own threads,
with the SDK's own retries off (retries and failover are the core's). The message id travels
as ``OutId`` and comes back in the delivery receipts (SmsReport) and in ``QuerySendDetails``,
which :meth:`AliyunNotifier.query_status` uses to learn whether a timed-out send was taken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.models import Config
from darabonba.exceptions import DaraException
from darabonba.runtime import RuntimeOptions

from ruxue_core import (
    ConfigurationError,
    MessageStatus,
    PermanentPluginError,
    Settings,
    SmsReceipt,
    SmsRequest,
    TemporaryPluginError,
)

PLUGIN_NAME: Final = "aliyun"

RESULT_CODES: Final[Mapping[str, MessageStatus]] = {
    "OK": MessageStatus.ACCEPTED,
    "isv.BUSINESS_LIMIT_CONTROL": MessageStatus.TEMPORARY_FAILURE,
    "isv.AMOUNT_NOT_ENOUGH": MessageStatus.TEMPORARY_FAILURE,
    "isv.OUT_OF_SERVICE": MessageStatus.TEMPORARY_FAILURE,
    "isp.SYSTEM_ERROR": MessageStatus.TEMPORARY_FAILURE,
    "Throttling.User": MessageStatus.TEMPORARY_FAILURE,
    "ServiceUnavailable": MessageStatus.TEMPORARY_FAILURE,
    "InternalError": MessageStatus.TEMPORARY_FAILURE,
    "isv.MOBILE_NUMBER_ILLEGAL": MessageStatus.PERMANENT_FAILURE,
    "isv.MOBILE_COUNT_OVER_LIMIT": MessageStatus.PERMANENT_FAILURE,
    "isv.BLACK_KEY_CONTROL_LIMIT": MessageStatus.PERMANENT_FAILURE,
    "isv.DAY_LIMIT_CONTROL": MessageStatus.PERMANENT_FAILURE,
    "isv.SMS_TEMPLATE_ILLEGAL": MessageStatus.PERMANENT_FAILURE,
    "isv.SMS_SIGNATURE_ILLEGAL": MessageStatus.PERMANENT_FAILURE,
    "isv.TEMPLATE_MISSING_PARAMETERS": MessageStatus.PERMANENT_FAILURE,
    "isv.INVALID_PARAMETERS": MessageStatus.PERMANENT_FAILURE,
    "isv.PARAM_LENGTH_LIMIT": MessageStatus.PERMANENT_FAILURE,
}
"""SendSms result codes onto Ruxue's vocabulary. Unknown ``isp.*`` codes (the platform's)
count as temporary, unknown ``isv.*`` codes (the request's) as permanent. Credentials the
vendor refuses (``SignatureDoesNotMatch``, ``InvalidAccessKeyId.*``) are temporary for the
message: this vendor cannot send now, another can, and its weight drops."""


def result_status(code: str) -> MessageStatus:
    """Map one SendSms result code onto the vocabulary (see :data:`RESULT_CODES`)."""
    if code in RESULT_CODES:
        return RESULT_CODES[code]
    return (
        MessageStatus.PERMANENT_FAILURE
        if code.startswith("isv.")
        else (MessageStatus.TEMPORARY_FAILURE)
    )


@dataclass(frozen=True, slots=True)
class AliyunOptions:
    """The notifier's settings (see the module docstring)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    sign_name: str
    templates: Mapping[str, str]
    endpoint: str = "dysmsapi.aliyuncs.com"
    protocol: str = "https"
    region_id: str = "cn-hangzhou"
    timeout_seconds: float = 10.0
    threads: int = 8

    @classmethod
    def from_settings(cls, config: Settings) -> AliyunOptions:
        """Read ``plugin_options.aliyun``; :raises ConfigurationError: naming what is wrong."""
        options = config.options_for(PLUGIN_NAME)
        missing = [
            k for k in ("access_key_id", "access_key_secret", "sign_name") if not options.get(k)
        ]
        if missing:
            names = "、".join(f"plugin_options.aliyun.{k}" for k in missing)
            raise ConfigurationError(f"阿里云短信未配置 {names}")
        templates = options.get("templates") or {}
        if not isinstance(templates, Mapping) or not all(
            isinstance(v, str) for v in templates.values()
        ):
            raise ConfigurationError(
                "plugin_options.aliyun.templates 应为 模板代码 → 阿里云模板 CODE"
            )
        protocol = str(options.get("protocol", "https")).lower()
        if protocol not in {"http", "https"}:
            raise ConfigurationError("plugin_options.aliyun.protocol 应为 https 或 http")
        return cls(
            access_key_id=str(options["access_key_id"]),
            access_key_secret=str(options["access_key_secret"]),
            sign_name=str(options["sign_name"]),
            templates=dict(templates),
            endpoint=str(options.get("endpoint", "dysmsapi.aliyuncs.com")),
            protocol=protocol,
            region_id=str(options.get("region_id", "cn-hangzhou")),
            timeout_seconds=float(options.get("timeout_seconds", config.plugin_timeout_seconds)),
            threads=int(options.get("threads", 8)),
        )


CHINA: Final = timezone(timedelta(hours=8))
DETAIL_PAGE_SIZE: Final = 50
MAX_DETAIL_PAGES: Final = 20


def _detail_receipt(message_id: str, dto: Any) -> SmsReceipt:
    """One ``SmsSendDetailDTO`` (``SendStatus`` 1 waiting for its report, 2 failed, 3
    delivered) as a receipt."""
    status = {
        2: MessageStatus.PERMANENT_FAILURE,
        3: MessageStatus.DELIVERED,
    }.get(int(dto.send_status or 1), MessageStatus.ACCEPTED)
    return SmsReceipt(
        status=status,
        vendor_code=str(dto.err_code or "") or None,
        detail="QuerySendDetails"
        if status is not MessageStatus.PERMANENT_FAILURE
        else str(dto.err_code or ""),
        message_id=message_id,
    )


class HideQueryStrings(logging.Filter):
    """Cuts query strings out of urllib3's request lines (logged at DEBUG).

    The SDK sends SendSms's parameters in the query string: the phone number, the template
    parameters (a query code among them). No log line may carry them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments in place; never drop it."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] + "?…" if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True


def hide_query_strings() -> None:
    """Install :class:`HideQueryStrings` on urllib3's connection-pool logger, once."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, HideQueryStrings) for f in logger.filters):
        logger.addFilter(HideQueryStrings())


class AliyunNotifier:
    """Sends each SMS with one ``SendSms`` call; parses SmsReport receipt callbacks."""

    def __init__(self, options: AliyunOptions) -> None:
        self.options = options
        hide_query_strings()
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> AliyunNotifier:
        """Build from ``plugin_options.aliyun``; :raises ConfigurationError:."""
        return cls(AliyunOptions.from_settings(config))

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            o = self.options
            client = Client(
                Config(
                    access_key_id=o.access_key_id,
                    access_key_secret=o.access_key_secret,
                    endpoint=o.endpoint,
                    protocol=o.protocol,
                    region_id=o.region_id,
                )
            )
            self._local.client = client
        return client

    def _send_blocking(self, sms: dysms.SendSmsRequest) -> Any:
        millis = int(self.options.timeout_seconds * 1000)
        runtime = RuntimeOptions(
            autoretry=False, max_attempts=0, read_timeout=millis, connect_timeout=millis
        )
        return self._client().send_sms_with_options(sms, runtime)

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Send one SMS; ``accepted`` with the BizId, or a failure status with the code.

        :raises TemporaryPluginError: network faults and refused credentials.
        :raises PermanentPluginError: no Alibaba Cloud template for this Ruxue template.
        """
        template = self.options.templates.get(request.template)
        if template is None:
            raise PermanentPluginError(f"阿里云短信未配置模板 {request.template}")
        sms = dysms.SendSmsRequest(
            phone_numbers=request.phone,
            sign_name=self.options.sign_name,
            template_code=template,
            template_param=json.dumps(dict(request.params), ensure_ascii=False),
            out_id=request.message_id,
        )
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.options.threads, "aliyun-sms")
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._executor, self._send_blocking, sms)
        except DaraException as exc:
            code = str(getattr(exc, "code", "") or type(exc).__name__)
            raise TemporaryPluginError(f"阿里云短信调用失败：{code}") from None
        except Exception as exc:  # the SDK wraps network faults in its own unrelated types
            raise TemporaryPluginError(f"阿里云短信网络错误：{type(exc).__name__}") from None
        body = response.body
        code = str(body.code or "")
        return SmsReceipt(
            status=result_status(code),
            vendor_message_id=body.biz_id or None,
            vendor_code=code,
            detail=None if code == "OK" else str(body.message or ""),
            message_id=request.message_id,
        )

    def _details_blocking(self, query: dysms.QuerySendDetailsRequest) -> Any:
        millis = int(self.options.timeout_seconds * 1000)
        runtime = RuntimeOptions(
            autoretry=False, max_attempts=0, read_timeout=millis, connect_timeout=millis
        )
        return self._client().query_send_details_with_options(query, runtime)

    async def query_status(self, request: SmsRequest, sent_at: datetime) -> SmsReceipt | None:
        """Look the message up with ``QuerySendDetails`` (by phone and day, China time),
        matching its ``OutId``. A record exists from acceptance, so none means not taken.

        :raises TemporaryPluginError: the query failed (the core asks again later).
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.options.threads, "aliyun-sms")
        loop = asyncio.get_running_loop()
        first = sent_at.astimezone(CHINA).date()
        last = datetime.now(CHINA).date()
        day = first
        while day <= last:
            for page in range(1, MAX_DETAIL_PAGES + 1):
                query = dysms.QuerySendDetailsRequest(
                    phone_number=request.phone,
                    send_date=day.strftime("%Y%m%d"),
                    page_size=DETAIL_PAGE_SIZE,
                    current_page=page,
                )
                try:
                    response = await loop.run_in_executor(
                        self._executor, self._details_blocking, query
                    )
                except Exception as exc:  # SDK and network faults alike: cannot tell now
                    raise TemporaryPluginError(
                        f"阿里云短信状态查询失败：{type(exc).__name__}"
                    ) from None
                body = response.body
                if str(body.code or "") != "OK":
                    raise TemporaryPluginError(f"阿里云短信状态查询失败：{body.code}")
                dtos = (
                    body.sms_send_detail_dtos.sms_send_detail_dto
                    if body.sms_send_detail_dtos
                    else []
                )
                for dto in dtos or []:
                    if dto.out_id == request.message_id:
                        return _detail_receipt(request.message_id, dto)
                if not dtos or page * DETAIL_PAGE_SIZE >= int(body.total_count or 0):
                    break
            day += timedelta(days=1)
        return None

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        """Parse an SmsReport callback (a JSON array); :raises PermanentPluginError: malformed."""
        try:
            items = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise PermanentPluginError("阿里云短信回执不是合法的 JSON") from None
        if not isinstance(items, list):
            raise PermanentPluginError("阿里云短信回执应为 JSON 数组")
        receipts: list[SmsReceipt] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("biz_id"), str):
                raise PermanentPluginError("阿里云短信回执缺少 biz_id")
            success = item.get("success")
            if not isinstance(success, bool):
                raise PermanentPluginError("阿里云短信回执缺少 success")
            out_id = item.get("out_id")
            receipts.append(
                SmsReceipt(
                    status=MessageStatus.DELIVERED if success else MessageStatus.PERMANENT_FAILURE,
                    vendor_message_id=item["biz_id"],
                    vendor_code=str(item.get("err_code") or ""),
                    detail=None if success else str(item.get("err_msg") or ""),
                    message_id=out_id if isinstance(out_id, str) and out_id else None,
                )
            )
        return receipts

    async def aclose(self) -> None:
        """Stop the SDK threads; safe to call more than once."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
