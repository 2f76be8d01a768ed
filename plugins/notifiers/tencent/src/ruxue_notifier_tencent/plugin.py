"""Hook implementations: registers the Tencent Cloud SMS notifier under the name ``tencent``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import NotifierRegistration, Settings, hookimpl
from ruxue_notifier_tencent.notifier import TencentNotifier


@hookimpl
def ruxue_notifiers(config: Settings) -> Iterable[NotifierRegistration]:
    """Register ``tencent`` (no I/O here; the SDK client is built on first send)."""
    return [
        NotifierRegistration(
            name="tencent",
            factory=TencentNotifier.from_settings,
            description="腾讯云短信（SendSms 2021-01-11，官方 SDK）",
        )
    ]
