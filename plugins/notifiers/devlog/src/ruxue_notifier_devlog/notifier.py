"""The development notifier: appends each SMS as one JSON line and logs it; sends nothing.

Options (``plugin_options.devlog``): ``path`` (default ``<data_dir>/sms-outbox.jsonl``) and
``fail_phone_prefix``: sends to phone numbers starting with it raise ``TemporaryPluginError``,
so that failover can be exercised without a real vendor.

Delivery receipts (for the callback endpoint) are a JSON list of
``{"vendor_message_id": "devlog-…", "status": "delivered" | "failed"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ruxue_core import (
    ConfigurationError,
    MessageStatus,
    PermanentPluginError,
    Settings,
    SmsReceipt,
    SmsRequest,
    TemporaryPluginError,
)

log = logging.getLogger(__name__)

PLUGIN_NAME: Final = "devlog"
OUTBOX_FILE: Final = "sms-outbox.jsonl"

RECEIPT_STATUSES: Final = {
    "delivered": MessageStatus.DELIVERED,
    "failed": MessageStatus.PERMANENT_FAILURE,
}

SAMPLE_RECEIPT_BODY: Final = json.dumps(
    [
        {"vendor_message_id": "devlog-00000000000000000000000000000001", "status": "delivered"},
        {"vendor_message_id": "devlog-00000000000000000000000000000002", "status": "failed"},
    ]
).encode()
"""A receipt callback body as this vendor would send it (for tests and docs)."""


def mask_phone(phone: str) -> str:
    """Mask a phone number for logs and files: ``13812341234`` → ``138****1234``."""
    phone = phone.strip()
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


class DevlogNotifier:
    """Writes SMS to a local JSON-lines outbox instead of a vendor; safe under concurrency.

    :param path: the outbox file; its directory is created on first send.
    :param fail_phone_prefix: phones starting with this make ``send`` raise a temporary error.
    """

    def __init__(self, path: Path, *, fail_phone_prefix: str | None = None) -> None:
        self.path = path
        self.fail_phone_prefix = fail_phone_prefix or None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, config: Settings) -> DevlogNotifier:
        """Build the notifier from ``plugin_options.devlog``; raise ``ConfigurationError``."""
        options = config.options_for(PLUGIN_NAME)
        path = options.get("path") or config.data_dir / OUTBOX_FILE
        prefix = options.get("fail_phone_prefix")
        if not isinstance(path, str | Path):
            raise ConfigurationError("开发短信通道的 path 应为文件路径")
        if prefix is not None and not isinstance(prefix, str):
            raise ConfigurationError("开发短信通道的 fail_phone_prefix 应为字符串")
        return cls(Path(path), fail_phone_prefix=prefix)

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Append the message to the outbox file; return ``accepted``."""
        masked = mask_phone(request.phone)
        if self.fail_phone_prefix and request.phone.startswith(self.fail_phone_prefix):
            raise TemporaryPluginError(f"开发短信通道模拟发送失败（{masked}）")
        vendor_message_id = f"devlog-{uuid.uuid4().hex}"
        line = json.dumps(
            {
                "message_id": request.message_id,
                "vendor_message_id": vendor_message_id,
                "phone": masked,
                "template": request.template,
                "params": dict(request.params),
                "text": request.text,
                "sent_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        await asyncio.to_thread(self._append, line + "\n")
        log.info("devlog SMS %s to %s: %s", request.message_id, masked, request.text)
        return SmsReceipt(
            status=MessageStatus.ACCEPTED,
            vendor_message_id=vendor_message_id,
            message_id=request.message_id,
        )

    def _append(self, line: str) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as outbox:
                outbox.write(line)

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        """Parse a receipt callback body; raise ``PermanentPluginError`` if it is malformed."""
        try:
            items = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise PermanentPluginError("开发短信通道回执不是合法的 JSON") from None
        if not isinstance(items, list):
            raise PermanentPluginError("开发短信通道回执应为 JSON 数组")
        receipts: list[SmsReceipt] = []
        for item in items:
            if not isinstance(item, dict):
                raise PermanentPluginError("开发短信通道回执的每一项应为 JSON 对象")
            vendor_id, code = item.get("vendor_message_id"), item.get("status")
            if not isinstance(vendor_id, str) or not vendor_id:
                raise PermanentPluginError("开发短信通道回执缺少 vendor_message_id")
            status = RECEIPT_STATUSES.get(code) if isinstance(code, str) else None
            if status is None:
                raise PermanentPluginError(f"开发短信通道回执状态未知：{code!r}")
            receipts.append(
                SmsReceipt(status=status, vendor_message_id=vendor_id, vendor_code=code)
            )
        return receipts

    async def aclose(self) -> None:
        """Nothing to release (the file is opened per send); safe to call more than once."""
