"""Placement instances for tests and benchmarks, and an independent statement of the rules.

``reference_choice`` restates how a school chooses (docs/placement.md) without the engine's
heaps, so the property tests check the engine against the rules rather than against itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from ruxue_core.placement import Applicant, Choice, Lottery, School, Tier

KINDS = ("military", "talent")
TIERS = (Tier.ZONED, Tier.COMMUNITY, Tier.TOWNSHIP, Tier.NEIGHBOUR, Tier.ANY)


@dataclass(frozen=True)
class Instance:
    """One season's placement input."""

    schools: list[School]
    applicants: list[Applicant]
    seed: str


@dataclass(frozen=True)
class Unit:
    """A single child or a sibling group, as the rules rank it."""

    lead: str
    members: tuple[str, ...]
    rank: tuple[int, tuple[int, ...], int, str]
    kind: str | None  # a policy-care kind; sibling groups take open seats only
    choices: tuple[str, ...]

    @property
    def weight(self) -> int:
        """Seats the unit takes."""
        return len(self.members)


def units_of(applicants: Sequence[Applicant], lottery: Lottery) -> list[Unit]:
    """Group siblings and rank units: best (category, keys) of the members, the lottery
    number of the member with the smallest receipt number, then that receipt number."""
    groups: dict[str, list[Applicant]] = {}
    for a in applicants:
        groups.setdefault(a.sibling_group or f"single:{a.id}", []).append(a)
    units = []
    for members in groups.values():
        lead = min(members, key=lambda a: a.id)
        best = min((a.category, a.keys) for a in members)
        units.append(
            Unit(
                lead=lead.id,
                members=tuple(sorted(a.id for a in members)),
                rank=(best[0], best[1], lottery(lead.id), lead.id),
                kind=lead.quota if len(members) == 1 else None,
                choices=tuple(c.school for c in lead.choices),
            )
        )
    return units


def reference_choice(school: School, candidates: Sequence[Unit]) -> set[str]:
    """Which of ``candidates`` the school takes: each kind's reserved seats to the best single
    children of that kind, then the remaining seats by rank, stopping at the first unit
    that does not fit. Returns the leads of the chosen units."""
    order = sorted(candidates, key=lambda u: u.rank)
    chosen: set[str] = set()
    for kind, seats in school.quotas.items():
        eligible = [u for u in order if u.kind == kind]
        chosen.update(u.lead for u in eligible[:seats])
    room = school.capacity - len(chosen)
    for unit in order:
        if unit.lead in chosen:
            continue
        if unit.weight > room:
            break
        chosen.add(unit.lead)
        room -= unit.weight
    return chosen


@st.composite
def instances(draw: st.DrawFn, *, siblings: bool = True, quotas: bool = True) -> Instance:
    """Small random seasons: a few schools, some oversubscribed, ties for the lottery to
    break, sibling groups and reserved seats when asked for."""
    school_count = draw(st.integers(1, 6))
    schools = []
    for i in range(school_count):
        capacity = draw(st.integers(0, 6))
        reserved: dict[str, int] = {}
        if quotas:
            for kind in KINDS:
                seats = min(draw(st.integers(0, 2)), capacity - sum(reserved.values()))
                if seats:
                    reserved[kind] = seats
        schools.append(School(f"S{i}", capacity, reserved))
    key_count = draw(st.integers(0, 2))
    families = draw(st.integers(0, 20))
    applicants: list[Applicant] = []
    for family in range(families):
        size = draw(st.sampled_from([1, 1, 1, 2, 3])) if siblings else 1
        picks = draw(st.permutations(range(school_count)))
        length = draw(st.integers(0, school_count))
        private = draw(st.booleans())
        choices = tuple(
            Choice(f"S{s}", Tier.PRIVATE if private and j == 0 else TIERS[min(j, 4)])
            for j, s in enumerate(picks[:length])
        )
        for child in range(size):
            applicants.append(
                Applicant(
                    id=f"R{family:03d}{child}",
                    category=draw(st.integers(1, 3)),
                    keys=tuple(draw(st.integers(0, 2)) for _ in range(key_count)),
                    choices=choices,
                    quota=draw(st.sampled_from([None, None, *KINDS])) if quotas else None,
                    sibling_group=f"F{family}" if size > 1 else None,
                )
            )
    seed = draw(st.text(min_size=1, max_size=8))
    return Instance(schools, applicants, seed)


def random_instance(
    applicants: int, schools: int, seed: int = 2026, per_township: int = 10
) -> Instance:
    """A district-sized season: zoned schools drawn unevenly (some oversubscribed), then the
    three coordination tiers (same community, same township, neighbouring township), with
    seats for about 98 % of the applicants. Lists are shared ``Choice`` objects, as a season
    derives them from a handful of zones."""
    rnd = random.Random(seed)
    townships = max(1, schools // per_township)
    made: dict[tuple[int, Tier], Choice] = {}

    def choice(school: int, tier: Tier) -> Choice:
        key = (school, tier)
        if key not in made:
            made[key] = Choice(f"S{school:05d}", tier)
        return made[key]

    weights = [rnd.uniform(0.5, 1.5) for _ in range(schools)]
    zoned = rnd.choices(range(schools), weights=weights, k=applicants)
    people = []
    for i, school in enumerate(zoned):
        township = school // per_township
        base = township * per_township
        size = min(per_township, schools - base)
        neighbour = ((township + 1) % townships) * per_township
        people.append(
            Applicant(
                id=f"R{i:08d}",
                category=rnd.randint(1, 4),
                keys=(rnd.randrange(3650),),
                choices=(
                    choice(school, Tier.ZONED),
                    choice(base + (school - base + 1) % size, Tier.COMMUNITY),
                    choice(base + rnd.randrange(size), Tier.TOWNSHIP),
                    choice(
                        min(neighbour + rnd.randrange(per_township), schools - 1), Tier.NEIGHBOUR
                    ),
                ),
            )
        )
    mean = applicants * 0.98 / schools
    places = [
        School(f"S{s:05d}", max(1, round(mean * rnd.uniform(0.7, 1.3)))) for s in range(schools)
    ]
    return Instance(places, people, f"bench-{seed}")


def matching_game_input(
    instance: Instance, lottery: Lottery
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
    """The instance as the ``matching`` library's hospital–resident game (singles, no
    reserved seats, non-empty lists): residents' and hospitals' preference
    lists and capacities; every school ranks its applicants by the one global rank. A school
    repeated in a list (zoned and again in a tier) is kept where it first appears; schools
    without seats are left out, as the library would."""
    rank = {u.lead: u.rank for u in units_of(instance.applicants, lottery)}
    closed = {s.id for s in instance.schools if s.capacity == 0}  # the library drops them
    lists = {
        a.id: list(dict.fromkeys(c.school for c in a.choices if c.school not in closed))
        for a in instance.applicants
    }
    residents = {a: schools for a, schools in lists.items() if schools}
    applied: dict[str, list[str]] = {s.id: [] for s in instance.schools}
    for resident, schools in residents.items():
        for school in schools:
            applied[school].append(resident)
    hospitals = {s: sorted(r, key=rank.__getitem__) for s, r in applied.items() if r}
    capacities = {s.id: s.capacity for s in instance.schools if s.id in hospitals}
    return residents, hospitals, capacities


def assignment(placed: Mapping[str, str | None]) -> dict[str, str]:
    """Only the placed applicants of an applicant → school mapping."""
    return {a: s for a, s in placed.items() if s is not None}
