"""Ruxue notifier template: a government SMS platform (政务短信平台) reached over HTTP.

Registered through the entry point ``govsms`` in group ``ruxue``; configure it under
``plugin_options.govsms`` (see :mod:`ruxue_notifier_govsms.notifier`).
"""

from ruxue_notifier_govsms.notifier import GovSmsNotifier, result_status

__all__ = ["GovSmsNotifier", "result_status"]
