"""Find personal numbers in log output: what a test asserts never appears in any log line.

:func:`personal_numbers` reports resident ID numbers whose check character is right (so a
random 18-digit string is not a false alarm) and mainland mobile numbers. :class:`LogScan`
is a logging handler that keeps every record's *unredacted* text, so a test proves that
personal data is never logged at all, not merely that the redacting filter masked it.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from ruxue_core.rules.national_id import mod11_2_check

_ID_CANDIDATE: Final = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE: Final = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")


def personal_numbers(text: str) -> list[str]:
    """Checksum-valid resident ID numbers and mobile numbers found in ``text``."""
    ids = [m for m in _ID_CANDIDATE.findall(text) if mod11_2_check(m[:17]) == m[17].upper()]
    return ids + _MOBILE.findall(text)


class LogScan(logging.Handler):
    """Keeps the raw text (message, arguments and traceback) of every record it sees."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's full text; never fails."""
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = f"{record.msg!r} {record.args!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")

    def leaks(self) -> list[str]:
        """Every captured line that carries a personal number."""
        return [line for line in self.lines if personal_numbers(line)]
