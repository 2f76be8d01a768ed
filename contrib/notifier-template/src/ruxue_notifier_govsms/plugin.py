"""Hook implementations: registers the government SMS platform notifier as ``govsms``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import NotifierRegistration, Settings, hookimpl
from ruxue_notifier_govsms.notifier import GovSmsNotifier


@hookimpl
def ruxue_notifiers(config: Settings) -> Iterable[NotifierRegistration]:
    """Register ``govsms`` (no I/O here; the HTTP client is opened on first send)."""
    return [
        NotifierRegistration(
            name="govsms",
            factory=GovSmsNotifier.from_settings,
            description="政务短信平台（HTTP 接口，模板）",
        )
    ]
