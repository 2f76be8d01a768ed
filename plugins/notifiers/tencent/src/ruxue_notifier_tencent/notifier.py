"""Tencent Cloud SMS through the official SDK (``tencentcloud-sdk-python-sms``).

Options (``plugin_options.tencent``; the secret from the environment, as
``RUXUE_PLUGIN_OPTIONS__TENCENT__SECRET_KEY``):

- ``secret_id``, ``secret_key``: the API key.
- ``sdk_app_id``: the SMS application (``SmsSdkAppId``, e.g. ``1400006666``).
- ``sign_name``: the approved signature (签名).
- ``templates``: Ruxue template code → ``{id = "<TemplateId>", params = ["child", …]}``;
  Tencent templates take positional parameters (``{1}``, ``{2}``…), filled from Ruxue's
  parameters in the order ``params`` lists.
- ``endpoint`` (default ``sms.tencentcloudapi.com``), ``protocol`` (``https``; ``http`` for a
  local fake), ``region`` (``ap-guangzhou``), ``timeout_seconds`` (default: the core's
  plugin timeout), ``threads`` (concurrent SDK calls, default 8), ``report_wait_seconds``
  (default 300: how long after a send its absence from ``PullSmsSendStatusByPhoneNumber``
  is not yet believed, since Tencent lists a message only once the carrier reported it).

The SDK signs with TC3-HMAC-SHA256 and blocks: each call runs in this notifier's own threads.
The message id travels as ``SessionContext``; delivery receipts name the ``SerialNo`` (sid).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from ruxue_core import (
    ConfigurationError,
    MessageStatus,
    PermanentPluginError,
    Settings,
    SmsReceipt,
    SmsRequest,
    TemporaryPluginError,
)

PLUGIN_NAME: Final = "tencent"

RESULT_CODES: Final[Mapping[str, MessageStatus]] = {
    "Ok": MessageStatus.ACCEPTED,
    "RequestLimitExceeded": MessageStatus.TEMPORARY_FAILURE,
    "InternalError.Timeout": MessageStatus.TEMPORARY_FAILURE,
    "InternalError.RequestTimeException": MessageStatus.TEMPORARY_FAILURE,
    "FailedOperation.InsufficientBalanceInSmsPackage": MessageStatus.TEMPORARY_FAILURE,
    "LimitExceeded.DeliveryFrequencyLimit": MessageStatus.TEMPORARY_FAILURE,
    "LimitExceeded.PhoneNumberThirtySecondLimit": MessageStatus.TEMPORARY_FAILURE,
    "LimitExceeded.PhoneNumberDailyLimit": MessageStatus.PERMANENT_FAILURE,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": MessageStatus.PERMANENT_FAILURE,
    "InvalidParameterValue.IncorrectPhoneNumber": MessageStatus.PERMANENT_FAILURE,
    "FailedOperation.PhoneNumberInBlacklist": MessageStatus.PERMANENT_FAILURE,
    "FailedOperation.TemplateIncorrectOrUnapproved": MessageStatus.PERMANENT_FAILURE,
    "FailedOperation.SignatureIncorrectOrUnapproved": MessageStatus.PERMANENT_FAILURE,
    "FailedOperation.ContainSensitiveWord": MessageStatus.PERMANENT_FAILURE,
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": (
        MessageStatus.PERMANENT_FAILURE
    ),
}
"""SendSms codes (the whole call's, or one number's) onto Ruxue's vocabulary. Unknown
``InternalError*``, ``RequestLimitExceeded*``, ``AuthFailure*`` and network errors count as
temporary (another vendor may send now); other unknown codes as permanent."""

TEMPORARY_PREFIXES: Final = ("InternalError", "RequestLimitExceeded", "AuthFailure", "Client")


def result_status(code: str) -> MessageStatus:
    """Map one code onto the vocabulary (see :data:`RESULT_CODES`)."""
    if code in RESULT_CODES:
        return RESULT_CODES[code]
    if code.startswith(TEMPORARY_PREFIXES):
        return MessageStatus.TEMPORARY_FAILURE
    return MessageStatus.PERMANENT_FAILURE


@dataclass(frozen=True, slots=True)
class TencentTemplate:
    """One Tencent template: its id and the Ruxue parameters it takes, in order."""

    id: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TencentOptions:
    """The notifier's settings (see the module docstring)."""

    secret_id: str
    secret_key: str = field(repr=False)
    sdk_app_id: str
    sign_name: str
    templates: Mapping[str, TencentTemplate]
    endpoint: str = "sms.tencentcloudapi.com"
    protocol: str = "https"
    region: str = "ap-guangzhou"
    timeout_seconds: float = 10.0
    threads: int = 8
    report_wait_seconds: float = 300.0

    @classmethod
    def from_settings(cls, config: Settings) -> TencentOptions:
        """Read ``plugin_options.tencent``; :raises ConfigurationError: naming what is wrong."""
        options = config.options_for(PLUGIN_NAME)
        required = ("secret_id", "secret_key", "sdk_app_id", "sign_name")
        missing = [k for k in required if not options.get(k)]
        if missing:
            names = "、".join(f"plugin_options.tencent.{k}" for k in missing)
            raise ConfigurationError(f"腾讯云短信未配置 {names}")
        protocol = str(options.get("protocol", "https")).lower()
        if protocol not in {"http", "https"}:
            raise ConfigurationError("plugin_options.tencent.protocol 应为 https 或 http")
        return cls(
            secret_id=str(options["secret_id"]),
            secret_key=str(options["secret_key"]),
            sdk_app_id=str(options["sdk_app_id"]),
            sign_name=str(options["sign_name"]),
            templates=_templates(options.get("templates") or {}),
            endpoint=str(options.get("endpoint", "sms.tencentcloudapi.com")),
            protocol=protocol,
            region=str(options.get("region", "ap-guangzhou")),
            timeout_seconds=float(options.get("timeout_seconds", config.plugin_timeout_seconds)),
            threads=int(options.get("threads", 8)),
            report_wait_seconds=float(options.get("report_wait_seconds", 300.0)),
        )


def _templates(raw: object) -> dict[str, TencentTemplate]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError("plugin_options.tencent.templates 应为 模板代码 → {id, params}")
    templates: dict[str, TencentTemplate] = {}
    for code, spec in raw.items():
        if isinstance(spec, str | int):
            templates[str(code)] = TencentTemplate(str(spec))
            continue
        if not isinstance(spec, Mapping) or "id" not in spec:
            raise ConfigurationError(f"plugin_options.tencent.templates.{code} 缺少 id")
        params = spec.get("params", [])
        if not isinstance(params, Sequence) or isinstance(params, str):
            raise ConfigurationError(f"plugin_options.tencent.templates.{code}.params 应为列表")
        templates[str(code)] = TencentTemplate(str(spec["id"]), tuple(str(p) for p in params))
    return templates


def e164(phone: str) -> str:
    """A mainland mobile number in E.164 (``+86…``), as ``PhoneNumberSet`` wants it."""
    phone = phone.strip()
    return phone if phone.startswith("+") else f"+86{phone}"


SDK_LOGGER: Final = "tencentcloud_sdk_common"
PULL_LIMIT: Final = 100
MAX_PULL_PAGES: Final = 20


class HideBodies(logging.Filter):
    """Keeps the SDK's request and response dumps (logged at DEBUG) out of the logs: they
    carry the phone number and the template parameters. Only the first word stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        record.msg = str(record.msg).split(":", 1)[0] + ": (body hidden)"
        record.args = None
        return True


def hide_bodies() -> None:
    """Install :class:`HideBodies` on the SDK's logger, once."""
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, HideBodies) for f in logger.filters):
        logger.addFilter(HideBodies())


class TencentNotifier:
    """Sends each SMS with one ``SendSms`` call; parses the status callback (回执)."""

    def __init__(self, options: TencentOptions) -> None:
        self.options = options
        hide_bodies()
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> TencentNotifier:
        """Build from ``plugin_options.tencent``; :raises ConfigurationError:."""
        return cls(TencentOptions.from_settings(config))

    def _client(self) -> sms_client.SmsClient:
        client: sms_client.SmsClient | None = getattr(self._local, "client", None)
        if client is None:
            o = self.options
            http = HttpProfile(
                endpoint=o.endpoint, protocol=o.protocol, reqTimeout=max(1, int(o.timeout_seconds))
            )
            client = sms_client.SmsClient(
                credential.Credential(o.secret_id, o.secret_key),
                o.region,
                ClientProfile(httpProfile=http),
            )
            self._local.client = client
        return client

    def _send_blocking(self, sms: models.SendSmsRequest) -> Any:
        return self._client().SendSms(sms)

    def _request(self, request: SmsRequest) -> models.SendSmsRequest:
        template = self.options.templates.get(request.template)
        if template is None:
            raise PermanentPluginError(f"腾讯云短信未配置模板 {request.template}")
        names = template.params or tuple(request.params)
        missing = [name for name in names if name not in request.params]
        if missing:
            raise PermanentPluginError(f"腾讯云短信模板 {request.template} 缺少参数 {missing}")
        sms = models.SendSmsRequest()
        sms.PhoneNumberSet = [e164(request.phone)]
        sms.SmsSdkAppId = self.options.sdk_app_id
        sms.SignName = self.options.sign_name
        sms.TemplateId = template.id
        sms.TemplateParamSet = [request.params[name] for name in names]
        sms.SessionContext = request.message_id
        return sms

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Send one SMS; ``accepted`` with the SerialNo, or a failure status with the code.

        :raises TemporaryPluginError: network faults and refused credentials.
        :raises PermanentPluginError: no Tencent template for this Ruxue template.
        """
        sms = self._request(request)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.options.threads, "tencent-sms")
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._executor, self._send_blocking, sms)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "ClientError")
            status = result_status(code)
            if status is MessageStatus.TEMPORARY_FAILURE:
                raise TemporaryPluginError(f"腾讯云短信调用失败：{code}") from None
            return SmsReceipt(status, vendor_code=code, detail=str(exc.get_message() or ""))
        except Exception as exc:  # outcome unknown: another vendor (or a retry) sends it
            raise TemporaryPluginError(f"腾讯云短信网络错误：{type(exc).__name__}") from None
        statuses = response.SendStatusSet or []
        if len(statuses) != 1:
            raise TemporaryPluginError("腾讯云短信应答缺少发送状态")
        sent = statuses[0]
        code = str(sent.Code or "")
        return SmsReceipt(
            status=result_status(code),
            vendor_message_id=sent.SerialNo or None,
            vendor_code=code,
            detail=None if code == "Ok" else str(sent.Message or ""),
            message_id=sent.SessionContext or request.message_id,
        )

    def _pull_blocking(self, pull: models.PullSmsSendStatusByPhoneNumberRequest) -> Any:
        return self._client().PullSmsSendStatusByPhoneNumber(pull)

    async def query_status(self, request: SmsRequest, sent_at: datetime) -> SmsReceipt | None:
        """Look the message up with ``PullSmsSendStatusByPhoneNumber``, matching its
        ``SessionContext``. Tencent lists a message only once the carrier reported it, so
        "not there" is believed only ``report_wait_seconds`` after the send; before that
        the answer is "cannot tell yet".

        :raises TemporaryPluginError: the query failed, or it is too early to tell.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.options.threads, "tencent-sms")
        loop = asyncio.get_running_loop()
        begin = int(sent_at.timestamp()) - 1
        for page in range(MAX_PULL_PAGES):
            pull = models.PullSmsSendStatusByPhoneNumberRequest()
            pull.BeginTime = begin
            pull.EndTime = int(time.time()) + 1
            pull.Offset = page * PULL_LIMIT
            pull.Limit = PULL_LIMIT
            pull.PhoneNumber = e164(request.phone)
            pull.SmsSdkAppId = self.options.sdk_app_id
            try:
                response = await loop.run_in_executor(self._executor, self._pull_blocking, pull)
            except TencentCloudSDKException as exc:
                raise TemporaryPluginError(f"腾讯云短信状态查询失败：{exc.get_code()}") from None
            except Exception as exc:
                raise TemporaryPluginError(
                    f"腾讯云短信状态查询网络错误：{type(exc).__name__}"
                ) from None
            found = response.PullSmsSendStatusSet or []
            for item in found:
                if item.SessionContext == request.message_id:
                    delivered = item.ReportStatus == "SUCCESS"
                    return SmsReceipt(
                        status=MessageStatus.DELIVERED
                        if delivered
                        else MessageStatus.PERMANENT_FAILURE,
                        vendor_message_id=item.SerialNo or None,
                        vendor_code=str(item.ReportStatus or ""),
                        detail=None if delivered else str(item.Description or ""),
                        message_id=request.message_id,
                    )
            if len(found) < PULL_LIMIT:
                break
        if time.time() - sent_at.timestamp() < self.options.report_wait_seconds:
            raise TemporaryPluginError("腾讯云短信尚未回报该短信的状态")
        return None

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        """Parse a status callback (a JSON array); :raises PermanentPluginError: malformed."""
        try:
            items = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise PermanentPluginError("腾讯云短信回执不是合法的 JSON") from None
        if not isinstance(items, list):
            raise PermanentPluginError("腾讯云短信回执应为 JSON 数组")
        receipts: list[SmsReceipt] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("sid"), str):
                raise PermanentPluginError("腾讯云短信回执缺少 sid")
            report = item.get("report_status")
            if report not in {"SUCCESS", "FAIL"}:
                raise PermanentPluginError(f"腾讯云短信回执状态未知：{report!r}")
            delivered = report == "SUCCESS"
            receipts.append(
                SmsReceipt(
                    status=MessageStatus.DELIVERED
                    if delivered
                    else MessageStatus.PERMANENT_FAILURE,
                    vendor_message_id=item["sid"],
                    vendor_code=str(item.get("errmsg") or ""),
                    detail=None if delivered else str(item.get("description") or ""),
                )
            )
        return receipts

    async def aclose(self) -> None:
        """Stop the SDK threads; safe to call more than once."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
