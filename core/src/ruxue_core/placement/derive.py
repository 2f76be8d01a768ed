"""From what the database knows to what the engine takes: each verified application's
derived list, category rank, ordering keys, quota kind and sibling group (pure; the placement
service loads the rows and stores the result).

A list is: the chosen private school (公民同招) if any, the zoned school(s) from the
assessment, then the coordination tiers: the other public schools of the same township, those
of the neighbouring townships (the season's ``[placement.neighbours]``), then every other
public school of the stage with room. The village tier (同村/社区) holds the schools the
season's zone rules name for the village or community the application's address matched (the
placement service matches the decrypted address against the zones, as the assessment did).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from ruxue_core.placement.engine import feeder_first
from ruxue_core.placement.model import Applicant, Choice, School, Tier
from ruxue_core.placement.policy import PlacementPolicy

MISSING_KEY: Final = 10_000_000
"""An ordering key a family lacks (no such verified fact) sorts after every real date."""


@dataclass(frozen=True, slots=True)
class SchoolRow:
    """A school as the derivation needs it; ``taken`` seats are already filled (an earlier
    publication's admissions, minus no-shows)."""

    code: str
    township: str | None
    public: bool
    plan: int
    taken: int = 0


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    """A verified application as the derivation needs it.

    :param facts: verified facts by ``(source, subject)``, e.g. ``("hukou", "child")``.
    """

    receipt_no: str
    township: str | None
    category: str | None
    zoned: tuple[str, ...]
    family: int
    facts: Mapping[tuple[str, str], Mapping[str, object]] = field(default_factory=dict)
    care: str | None = None
    private: str | None = None
    primary_school: str | None = None
    """小升初: the primary school the child graduates from (see :func:`feeder_first`)."""
    community: tuple[str, ...] = ()
    """The schools the zone rules name for the address's village/community (同村/社区)."""


def schools_for(
    policy: PlacementPolicy, rows: Sequence[SchoolRow], *, coordination: bool = False
) -> list[School]:
    """The engine's schools: the plan less the seats already taken, with the policy-care
    seats (capped at the seats left). A coordination run reserves nothing."""
    schools = []
    for row in rows:
        capacity = max(row.plan - row.taken, 0)
        quotas: dict[str, int] = {}
        if not coordination and row.public:
            left = capacity
            for quota in policy.quotas:
                seats = min(quota.seats_at(row.code), left)
                if seats > 0:
                    quotas[quota.kind] = seats
                    left -= seats
        schools.append(School(row.code, capacity, quotas))
    return schools


def applicants_for(
    policy: PlacementPolicy,
    category_codes: Sequence[str],
    schools: Sequence[SchoolRow],
    rows: Sequence[ApplicationRow],
    feeders: Mapping[str, str] | None = None,
) -> list[Applicant]:
    """The engine's applicants, with lists derived from policy (never asked of families).

    :param feeders: 小升初: the season's feeder mapping (primary → middle school code); a
        graduate of a mapped primary school has its middle school first (after a chosen
        private school).
    """
    rank = {code: i for i, code in enumerate(category_codes, start=1)}
    public = sorted((s for s in schools if s.public), key=lambda s: s.code)
    known = {s.code for s in schools}
    private = {o.school for o in policy.private}
    families: dict[int, int] = {}
    for row in rows:
        families[row.family] = families.get(row.family, 0) + 1
    applicants = []
    for row in rows:
        choices = _choices(policy, row, public, known, private)
        if feeders:
            choices = feeder_first(choices, row.primary_school, feeders)
        group = None
        if policy.siblings.together and families[row.family] > 1:
            group = f"family-{row.family}"
        applicants.append(
            Applicant(
                id=row.receipt_no,
                category=rank.get(row.category or "", len(rank) + 1),
                keys=_keys(policy, row),
                choices=choices,
                quota=row.care,
                sibling_group=group,
            )
        )
    return _bind_siblings(applicants)


def _choices(
    policy: PlacementPolicy,
    row: ApplicationRow,
    public: Sequence[SchoolRow],
    known: set[str],
    private: set[str],
) -> tuple[Choice, ...]:
    seen: set[str] = set()
    choices: list[Choice] = []

    def add(code: str, tier: Tier) -> None:
        if code in known and code not in seen:
            seen.add(code)
            choices.append(Choice(code, tier))

    if row.private is not None and row.private in private:
        add(row.private, Tier.PRIVATE)
    for code in row.zoned:
        add(code, Tier.ZONED)
    public_codes = {school.code for school in public}
    for code in row.community:
        if code in public_codes:
            add(code, Tier.COMMUNITY)
    neighbours = policy.neighbours.get(row.township or "", [])
    for school in public:
        if school.township == row.township:
            add(school.code, Tier.TOWNSHIP)
    for township in neighbours:
        for school in public:
            if school.township == township:
                add(school.code, Tier.NEIGHBOUR)
    for school in public:
        add(school.code, Tier.ANY)
    return tuple(choices)


def _keys(policy: PlacementPolicy, row: ApplicationRow) -> tuple[int, ...]:
    keys = []
    for key in policy.ordering_keys:
        value = row.facts.get((key.source, key.subject), {}).get(key.fact)
        keys.append(_ordinal(value))
    return tuple(keys)


def _ordinal(value: object) -> int:
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]).toordinal()
        except ValueError:
            return MISSING_KEY
    return MISSING_KEY


def _bind_siblings(applicants: list[Applicant]) -> list[Applicant]:
    """Siblings whose derived lists differ (different zones) are placed apart: the engine
    binds only members with one list."""
    lists: dict[str, set[tuple[Choice, ...]]] = {}
    for a in applicants:
        if a.sibling_group is not None:
            lists.setdefault(a.sibling_group, set()).add(a.choices)
    return [
        a
        if a.sibling_group is None or len(lists[a.sibling_group]) == 1
        else Applicant(a.id, a.category, a.keys, a.choices, a.quota, None)
        for a in applicants
    ]
