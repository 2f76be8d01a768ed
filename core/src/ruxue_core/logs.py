"""Logging that keeps personal data out: a last line of defence behind "never log variables".

:class:`RedactingFilter` rewrites every record reaching a handler so that anything shaped like
a resident ID number or a mainland mobile number is masked, in the message, its arguments and
its traceback. :func:`configure_logging` installs it on the root handler.
"""

from __future__ import annotations

import logging
import re
from typing import Final

ID_NUMBER: Final = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")
MOBILE: Final = re.compile(r"(?<![0-9])(1[3-9]\d)\d{4}(\d{4})(?![0-9])")


def redact(text: str) -> str:
    """``text`` with ID-number-shaped and mobile-number-shaped strings masked."""
    text = ID_NUMBER.sub(r"\1**********\2", text)
    return MOBILE.sub(r"\1****\2", text)


class RedactingFilter(logging.Filter):
    """Masks personal numbers in a record's message, arguments and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """One stderr handler on the root logger, with the redacting filter; idempotent."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if any(isinstance(f, RedactingFilter) for f in handler.filters):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
