"""Personal data stays out of logs: the redacting filter masks ID and mobile numbers in the
message, its arguments and its traceback, and the scanner finds what it must."""

from __future__ import annotations

import logging

import pytest

from ruxue_core.logs import RedactingFilter, redact
from ruxue_core.testing.logscan import LogScan, personal_numbers

VALID_ID = "420704198501011233"
PHONE = "13812345678"


def test_redact_masks_id_and_mobile_numbers() -> None:
    text = f"id={VALID_ID} phone={PHONE} receipt=42070420261130888042458"
    masked = redact(text)
    assert VALID_ID not in masked and PHONE not in masked
    assert "4207**********1233" in masked and "138****5678" in masked
    assert "42070420261130888042458" in masked  # a receipt number is not personal data


def test_filter_masks_message_arguments_and_traceback() -> None:
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "for %s", (VALID_ID,), None)
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert personal_numbers(formatted) == []
    assert "4207**********1233" in formatted and "138****5678" in formatted


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"x {VALID_ID} y", [VALID_ID]),
        ("x 420704198501011234 y", []),  # wrong check character: not an ID number
        (f"call {PHONE}", [PHONE]),
        ("12345678901", []),  # not a mobile prefix
        ("42070420261130888042458", []),  # a 23-digit receipt number
    ],
)
def test_personal_numbers(text: str, found: list[str]) -> None:
    assert personal_numbers(text) == found


def test_log_scan_keeps_the_unredacted_text() -> None:
    scan = LogScan()
    logger = logging.getLogger("ruxue.test.scan")
    logger.addHandler(scan)
    try:
        logger.warning("leak %s", PHONE)
    finally:
        logger.removeHandler(scan)
    assert scan.leaks() == [f"ruxue.test.scan: leak {PHONE}"]
