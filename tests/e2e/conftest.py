"""Every test here runs with the personal-data log scan (see ``tests/log_capture.py``)."""

from log_capture import no_personal_numbers_in_logs

__all__ = ["no_personal_numbers_in_logs"]
