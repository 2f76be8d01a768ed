"""Hook implementations: registers the development notifier under the name ``devlog``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import NotifierRegistration, Settings, hookimpl
from ruxue_notifier_devlog.notifier import DevlogNotifier


@hookimpl
def ruxue_notifiers(config: Settings) -> Iterable[NotifierRegistration]:
    """Register ``devlog`` (no I/O here; the outbox file is opened on each send)."""
    return [
        NotifierRegistration(
            name="devlog",
            factory=DevlogNotifier.from_settings,
            description="开发用短信通道：写入本地 sms-outbox.jsonl，不真正发送",
            receipts=False,
        )
    ]
