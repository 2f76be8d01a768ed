"""Hook implementations: registers the Alibaba Cloud SMS notifier under the name ``aliyun``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import NotifierRegistration, Settings, hookimpl
from ruxue_notifier_aliyun.notifier import AliyunNotifier


@hookimpl
def ruxue_notifiers(config: Settings) -> Iterable[NotifierRegistration]:
    """Register ``aliyun`` (no I/O here; the SDK client is built on first send)."""
    return [
        NotifierRegistration(
            name="aliyun",
            factory=AliyunNotifier.from_settings,
            description="阿里云短信服务（Dysmsapi SendSms，官方 SDK）",
        )
    ]
