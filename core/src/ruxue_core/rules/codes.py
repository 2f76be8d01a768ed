"""Case codes: the receipt number (办件编号) and the 6-digit query code (查询密码).

Both come from ``secrets``: neither can be predicted from another application's codes. The
receipt number ends with an ISO 7064 MOD 11-2 check character so typing errors are caught
before any lookup; the query code is only ever checked with a rate limit (see services).
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Final

from ruxue_core.rules.national_id import mod11_2_check

RECEIPT_PATTERN: Final = re.compile(r"[0-9]{22}[0-9X]")
QUERY_CODE_PATTERN: Final = re.compile(r"[0-9]{6}")


def new_receipt_no(district_code: str, on: date) -> str:
    """A new 23-character receipt number: district code, date, 8 random digits, check."""
    body = f"{district_code}{on:%Y%m%d}{secrets.randbelow(10**8):08d}"
    return body + mod11_2_check(body)


def is_valid_receipt_no(value: str) -> bool:
    """Whether ``value`` has the receipt number's shape and a correct check character."""
    return bool(RECEIPT_PATTERN.fullmatch(value)) and mod11_2_check(value[:-1]) == value[-1]


def new_query_code() -> str:
    """A new uniformly random 6-digit query code."""
    return f"{secrets.randbelow(10**6):06d}"
