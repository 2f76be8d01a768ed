"""Age eligibility (适龄): the season's birth-date window, with deferral and early entry.

A child born inside ``[earliest, latest]`` is of age. The season may also accept, for manual
review rather than outright, older children whose entry was deferred (缓学: born from
``deferral_earliest``) and younger ones applying early (提前入学: born up to
``early_entry_latest``). Anyone else is ``Ineligible``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol

from ruxue_core.errors import Ineligible

DEFERRAL: Final = "deferral"
EARLY_ENTRY: Final = "early_entry"
FIELD: Final = "child.idNumber"


def default_age_cutoff(year: int, *, age: int = 6) -> date:
    """The national default cutoff: born on or before 31 August, ``age`` years before ``year``."""
    return date(year - age, 8, 31)


class _SeasonAges(Protocol):
    @property
    def age_cutoff(self) -> date: ...
    @property
    def earliest_birth(self) -> date: ...
    @property
    def deferral_earliest(self) -> date | None: ...
    @property
    def early_entry_latest(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class AgeWindow:
    """The birth dates a season accepts."""

    earliest: date
    latest: date
    deferral_earliest: date | None = None
    early_entry_latest: date | None = None

    @classmethod
    def of(cls, season: _SeasonAges) -> AgeWindow:
        """The window a season defines."""
        return cls(
            season.earliest_birth,
            season.age_cutoff,
            season.deferral_earliest,
            season.early_entry_latest,
        )


def age_exception(birth_date: date, window: AgeWindow) -> str | None:
    """``None`` for a child of age, ``"deferral"`` or ``"early_entry"`` for one the season
    sends to manual review.

    :raises Ineligible: outside every window the season accepts, with the window in Chinese.
    """
    if window.earliest <= birth_date <= window.latest:
        return None
    deferral = window.deferral_earliest
    if deferral is not None and deferral <= birth_date < window.earliest:
        return DEFERRAL
    early = window.early_entry_latest
    if early is not None and window.latest < birth_date <= early:
        return EARLY_ENTRY
    raise Ineligible(
        f"儿童须在{window.earliest:%Y年%m月%d日}至{window.latest:%Y年%m月%d日}之间出生",
        field=FIELD,
    )
