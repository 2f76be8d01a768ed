"""Ruxue notifier for Alibaba Cloud SMS (Dysmsapi ``SendSms``) on the official SDK.

Registered through the entry point ``aliyun`` in group ``ruxue``; configure it under
``plugin_options.aliyun`` (see :mod:`ruxue_notifier_aliyun.notifier`).
"""

from ruxue_notifier_aliyun.notifier import RESULT_CODES, AliyunNotifier, AliyunOptions

__all__ = ["RESULT_CODES", "AliyunNotifier", "AliyunOptions"]
