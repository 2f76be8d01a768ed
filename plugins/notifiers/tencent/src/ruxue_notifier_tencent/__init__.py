"""Ruxue notifier for Tencent Cloud SMS (``SendSms``, API 2021-01-11) on the official SDK.

Registered through the entry point ``tencent`` in group ``ruxue``; configure it under
``plugin_options.tencent`` (see :mod:`ruxue_notifier_tencent.notifier`).
"""

from ruxue_notifier_tencent.notifier import RESULT_CODES, TencentNotifier, TencentOptions

__all__ = ["RESULT_CODES", "TencentNotifier", "TencentOptions"]
