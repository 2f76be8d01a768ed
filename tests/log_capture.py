"""The log scan shared by the fuzz and end-to-end suites' conftests: every test there runs with
a handler on the root logger at DEBUG, and fails if any captured line carries a personal
number (a checksum-valid ID number or a mobile number)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ruxue_core.testing.logscan import LogScan


@pytest.fixture(autouse=True)
def no_personal_numbers_in_logs() -> Iterator[LogScan]:
    """Capture every log record of the test; fail if one carries a personal number."""
    scan = LogScan()
    root = logging.getLogger()
    level = root.level
    root.addHandler(scan)
    root.setLevel(logging.DEBUG)
    try:
        yield scan
    finally:
        root.removeHandler(scan)
        root.setLevel(level)
    leaks = scan.leaks()
    assert not leaks, f"{len(leaks)} log line(s) carry personal numbers, e.g. {leaks[0][:300]}"
