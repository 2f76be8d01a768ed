"""Resident ID numbers (居民身份证号码, GB 11643-1999) with the ISO 7064 MOD 11-2 check.

18 characters: 6-digit address code, 8-digit birth date, 3-digit sequence (odd = male),
1 check character (0-9 or X). A lowercase ``x`` is normalised to ``X``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from ruxue_core.errors import InvalidInput

_CHECK: Final = "10X98765432"
_SHAPE: Final = re.compile(r"[0-9]{17}[0-9X]")  # ASCII only: str.isdigit() admits "４" and "٤"


def mod11_2_check(digits: str) -> str:
    """The ISO 7064 MOD 11-2 check character for a string of digits (any length)."""
    n = len(digits)
    # The weight of a digit is 2^k mod 11, k its distance from the check character.
    total = sum(int(d) * pow(2, n - i, 11) for i, d in enumerate(digits))
    return _CHECK[total % 11]


@dataclass(frozen=True, slots=True)
class NationalId:
    """A validated resident ID number and what it encodes."""

    value: str
    birth_date: date
    male: bool

    @property
    def address_code(self) -> str:
        """Where the number was first issued; says nothing about today's hukou."""
        return self.value[:6]


def parse_national_id(raw: str, *, field: str = "idNumber") -> NationalId:
    """Validate and normalise an ID number, or raise ``InvalidInput`` saying what is wrong.

    :param raw: the number as typed (surrounding spaces ignored, lowercase ``x`` accepted).
    :param field: the input field to name in the error.
    """
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidInput(f"身份证号码应为18位，当前为{len(value)}位", field=field)
    if not _SHAPE.fullmatch(value):
        raise InvalidInput("身份证号码前17位须为数字，末位为数字或X", field=field)
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidInput("身份证号码中的出生日期不存在", field=field) from None
    if born.year < 1850 or born > date.today():
        raise InvalidInput("身份证号码中的出生日期不合理", field=field)
    if mod11_2_check(value[:17]) != value[17]:
        raise InvalidInput("身份证号码校验位错误，请核对", field=field)
    return NationalId(value=value, birth_date=born, male=int(value[16]) % 2 == 1)


def make_national_id(address_code: str, born: date, sequence: int) -> str:
    """Build a valid (synthetic) ID number; used for sample data and tests."""
    body = f"{address_code}{born:%Y%m%d}{sequence:03d}"
    return body + mod11_2_check(body)
