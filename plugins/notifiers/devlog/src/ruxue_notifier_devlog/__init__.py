"""Ruxue development notifier: no SMS leaves the machine; each one becomes a JSON line.

Registered through the entry point ``devlog`` in group ``ruxue``; configure it under
``plugin_options.devlog`` (``path``, ``fail_phone_prefix``).
"""

from ruxue_notifier_devlog.notifier import DevlogNotifier, mask_phone

__all__ = ["DevlogNotifier", "mask_phone"]
