"""Validation of the free-text fields people type: names, mobile numbers, addresses."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from ruxue_core.errors import InvalidInput

_PHONE: Final = re.compile(r"^1[3-9]\d{9}$", re.ASCII)  # \d alone admits "８", "٨"
_NAME: Final = re.compile(r"^[\u3400-\u9fff\u00b7·A-Za-z ]{1,50}$")


def _printable(value: str) -> bool:
    return all(unicodedata.category(ch)[0] not in ("C",) for ch in value)


CODE: Final = re.compile(r"[0-9A-Za-z_-]{1,32}")
"""A season, township (乡镇/街道), school or material code."""


def validate_code(raw: str, *, field: str, message: str) -> str:
    """A code's shape (:data:`CODE`), checked before any database sees it.

    :raises InvalidInput: with ``message``.
    """
    if not CODE.fullmatch(raw):
        raise InvalidInput(message, field=field)
    return raw


def validate_text(raw: str, *, field: str, max_length: int, message: str) -> str:
    """Free text (a review comment): at most ``max_length`` characters, no control character
    but line breaks and tabs (a NUL byte, for one, cannot be stored in PostgreSQL).

    :raises InvalidInput: with ``message``.
    """
    if len(raw) > max_length or not _printable(raw.replace("\n", "").replace("\t", "")):
        raise InvalidInput(message, field=field)
    return raw


def validate_phone(raw: str, *, field: str = "phone") -> str:
    """A mainland mobile number (11 digits starting 13–19), spaces and dashes removed."""
    value = re.sub(r"[\s-]", "", raw)
    if not _PHONE.match(value):
        raise InvalidInput("手机号码应为11位大陆手机号", field=field)
    return value


def validate_name(raw: str, *, field: str = "name") -> str:
    """A person's name: 1–50 Chinese or Latin letters (with the middle dot of minority names)."""
    value = raw.strip()
    if not _NAME.match(value):
        raise InvalidInput("姓名应为1至50个汉字或字母", field=field)
    return value


def validate_address(raw: str, *, field: str = "address") -> str:
    """A residence address: 5–200 printable characters, internal whitespace collapsed."""
    value = " ".join(raw.split())
    if not 5 <= len(value) <= 200 or not _printable(value):
        raise InvalidInput("住址应为5至200个字符", field=field)
    return value
