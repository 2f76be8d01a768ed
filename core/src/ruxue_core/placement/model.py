"""What the placement engine takes and gives: schools, applicants with derived lists, results.

Everything here is plain data with no database behind it, so a season's placement can be run,
re-run and compared from any source (the database, a season file, a test's random instance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

#: Maps a receipt number to its lottery number; a lower number is drawn earlier.
Lottery = Callable[[str], int]


class Tier(StrEnum):
    """Why a school is on an applicant's list, in the order lists are derived (the round)."""

    PRIVATE = "private"
    FEEDER = "feeder"
    ZONED = "zoned"
    COMMUNITY = "community"
    TOWNSHIP = "township"
    NEIGHBOUR = "neighbour"
    ANY = "any"

    @property
    def label(self) -> str:
        """The tier's name for people."""
        return TIER_LABELS[self]


TIER_LABELS: Mapping[Tier, str] = {
    Tier.PRIVATE: "民办学校摇号（公民同招）",
    Tier.FEEDER: "小升初对口直升",
    Tier.ZONED: "划片对口入学",
    Tier.COMMUNITY: "统筹：同村（社区）",
    Tier.TOWNSHIP: "统筹：同乡镇（街道）",
    Tier.NEIGHBOUR: "统筹：相邻乡镇",
    Tier.ANY: "统筹：区内有空余学位的学校",
}


class UnplacedReason(StrEnum):
    """Why an applicant has no school after placement; either way the case goes to 统筹中."""

    NO_CHOICES = "no_choices"
    ALL_FULL = "all_full"

    @property
    def label(self) -> str:
        """The reason in plain Chinese."""
        return UNPLACED_LABELS[self]


UNPLACED_LABELS: Mapping[UnplacedReason, str] = {
    UnplacedReason.NO_CHOICES: "没有可派位的学校（未确定划片学校），转人工统筹",
    UnplacedReason.ALL_FULL: "名单上的学校均已被排位更前的学生录满，转人工统筹",
}


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of a derived list: a school and the tier that put it there."""

    school: str
    tier: Tier


@dataclass(frozen=True, slots=True)
class School:
    """A school's plan for the season.

    :param capacity: seats to fill (classes × class size − reserved), never exceeded.
    :param quotas: seats reserved per policy-care kind (政策性照顾), part of ``capacity``.
    """

    id: str
    capacity: int
    quotas: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Applicant:
    """One verified application as placement sees it.

    :param id: the receipt number (办件编号); the lottery number is drawn from it.
    :param category: the category rank (顺位), 1 first; lower places first.
    :param keys: the season's ordering keys inside a category, lower first (e.g. the ordinal
        of the hukou or property registration date: earlier registration places first).
    :param choices: the derived list: the chosen private school if any, then the zoned
        school(s), then the coordination tiers.
    :param quota: the confirmed policy-care kind, if any.
    :param sibling_group: children of one family placed together (twins, multiples).
    """

    id: str
    category: int
    keys: tuple[int, ...] = ()
    choices: tuple[Choice, ...] = ()
    quota: str | None = None
    sibling_group: str | None = None


class Priority(NamedTuple):
    """Where an applicant (or sibling group) stands at every school. Tuples compare field by
    field, so the ranking is the tuple order: category, then ordering keys, then lottery
    number, then receipt number; smaller is better."""

    category: int
    keys: tuple[int, ...]
    lottery_number: int
    receipt_no: str


class Outcome(NamedTuple):
    """Where one applicant ended (a tuple: a million of them are made per run).

    :param choice_index: position in the applicant's list of the school that admitted them.
    :param reserved: admitted on a seat reserved for their policy-care kind.
    :param priority: the priority that schools ranked (a sibling group's, for its members).
    """

    applicant: str
    school: str | None
    tier: Tier | None
    choice_index: int | None
    reserved: bool
    priority: Priority
    reason: UnplacedReason | None


@dataclass(frozen=True, slots=True)
class Cutoff:
    """A school's result, which explanations quote: seats taken, the last admitted on open
    (non-reserved) seats, and the best-ranked applicant it turned away from them, if any."""

    school: str
    capacity: int
    admitted: int
    last_admitted: Priority | None
    first_refused: Priority | None

    @property
    def full(self) -> bool:
        """Whether the school turned anyone away (then ``last_admitted`` is its cut-off)."""
        return self.first_refused is not None


@dataclass(frozen=True, slots=True)
class Placement:
    """The result of one run: an outcome per applicant and a cut-off per school."""

    outcomes: Mapping[str, Outcome]
    cutoffs: Mapping[str, Cutoff]
    applicants: Mapping[str, Applicant]

    def unplaced(self) -> list[Outcome]:
        """Applicants without a school, who go to coordination (统筹中)."""
        return [o for o in self.outcomes.values() if o.school is None]
