"""Age eligibility (适龄): born on or before the season's cutoff date."""

from __future__ import annotations

from datetime import date

from ruxue_core.errors import Ineligible


def default_age_cutoff(year: int, *, age: int = 6) -> date:
    """The national default cutoff: born on or before 31 August, ``age`` years before ``year``."""
    return date(year - age, 8, 31)


def check_age(birth_date: date, cutoff: date, *, oldest: date | None = None) -> None:
    """Raise ``Ineligible`` unless the birth date lies within the season's window.

    :param birth_date: the child's birth date, from the validated ID number.
    :param cutoff: the latest eligible birth date.
    :param oldest: the earliest eligible birth date, if the season sets one.
    """
    if birth_date > cutoff:
        raise Ineligible(f"儿童须在{cutoff:%Y年%m月%d日}（含）以前出生", field="child.idNumber")
    if oldest is not None and birth_date < oldest:
        raise Ineligible(f"儿童须在{oldest:%Y年%m月%d日}（含）以后出生", field="child.idNumber")
