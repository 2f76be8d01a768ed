"""What loading a season file would change: the season as stored against the season as the
file defines it, both reduced to a :class:`SeasonState` of plain JSON values, compared entry
by entry (schools by code, zones by address, categories in order, …). Pure: the season use
case reads the stored state, and ``ruxue season load --dry-run`` prints the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from ruxue_core.policy import SeasonFile

#: Season row fields a file sets.
SEASON_FIELDS: Final = (
    "name",
    "year",
    "stage",
    "age_cutoff",
    "earliest_birth",
    "deferral_earliest",
    "early_entry_latest",
    "opens_at",
    "closes_at",
)
SCHOOL_FIELDS: Final = ("name", "stage", "public", "township", "classes", "class_size", "reserved")

#: Policy lists compared entry by entry, and what identifies an entry of each.
ENTRY_KEYS: Final[Mapping[str, Sequence[str]]] = {
    "categories": ("code",),
    "materials": ("code",),
    "zones": ("township", "village", "estate"),
    "feeders": ("primary",),
}
#: Policy entries compared elsewhere: the roster (as schools) and the township names
#: (as regions).
NOT_POLICY: Final = frozenset({"schools", "townships"})


class ChangeKind(StrEnum):
    """What happened to an entry."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"

    @property
    def label(self) -> str:
        """The kind in Chinese."""
        return {"added": "新增", "removed": "删除", "changed": "修改"}[self.value]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: the section (``schools``, ``zones``, ``sms``…), the entry within it
    (a school code, ``420704104/机场社区``), the field if one, and the values as text."""

    section: str
    key: str
    kind: ChangeKind
    field: str | None = None
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True, slots=True)
class SeasonState:
    """A season reduced to JSON values: the season row's fields, the regions and schools the
    season names (by code), and the stored policy. ``loaded`` is false for a season not in
    the database yet (whose regions and schools may be, from another season)."""

    season: Mapping[str, Any]
    regions: Mapping[str, Mapping[str, Any]]
    schools: Mapping[str, Mapping[str, Any]]
    policy: Mapping[str, Any]
    loaded: bool = True


@dataclass(frozen=True, slots=True)
class SeasonDiff:
    """Every change loading a file makes to one season; empty when it changes nothing."""

    season: str
    new: bool
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        """Whether loading would change nothing."""
        return not self.new and not self.changes

    def counts(self) -> dict[str, dict[str, int]]:
        """How many entries of each section were added, removed or changed."""
        counts: dict[str, dict[str, int]] = {}
        seen: set[tuple[str, str, ChangeKind]] = set()
        for change in self.changes:
            if (change.section, change.key, change.kind) in seen:
                continue
            seen.add((change.section, change.key, change.kind))
            section = counts.setdefault(change.section, {})
            section[change.kind.value] = section.get(change.kind.value, 0) + 1
        return counts


def jsonable(value: Any) -> Any:
    """A value as stored JSON holds it; instants in UTC so that offsets compare equal."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def file_state(data: SeasonFile, window: tuple[datetime, datetime] | None = None) -> SeasonState:
    """The state loading ``data`` leaves (``window`` overrides the registration window)."""
    info = data.season
    opens_at, closes_at = window or (info.opens_at, info.closes_at)
    values = info.model_dump() | {
        "earliest_birth": info.earliest,
        "opens_at": opens_at,
        "closes_at": closes_at,
    }
    return SeasonState(
        season={name: jsonable(values[name]) for name in SEASON_FIELDS},
        regions={
            r.code: {"name": r.name, "level": r.level, "parent": r.parent} for r in data.regions
        },
        schools={
            s.code: {name: jsonable(getattr(s, name)) for name in SCHOOL_FIELDS}
            for s in data.schools
        },
        policy=json.loads(json.dumps(data.policy_json())),
    )


def diff_states(code: str, old: SeasonState, after: SeasonState) -> SeasonDiff:
    """Every change from the stored state ``old`` to ``after``."""
    changes: list[Change] = []
    changes += _fields("season", code, old.season, after.season, SEASON_FIELDS)
    for region, values in after.regions.items():  # regions are shared: never removed here
        if region not in old.regions:
            changes.append(Change("regions", region, ChangeKind.ADDED, after=values["name"]))
        else:
            changes += _fields("regions", region, old.regions[region], values, tuple(values))
    changes += _schools(old.schools, after.schools)
    for section in sorted((set(old.policy) | set(after.policy)) - NOT_POLICY):
        was, now = old.policy.get(section), after.policy.get(section)
        if section in ENTRY_KEYS:
            changes += _entries(section, was or [], now or [], ENTRY_KEYS[section])
        else:
            changes += _tree(section, section, was, now)
    return SeasonDiff(code, not old.loaded, tuple(changes))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _summary(entry: Mapping[str, Any]) -> str | None:
    """An added or removed entry in a few words: its name, or the schools it names."""
    if entry.get("name"):
        return str(entry["name"])
    if entry.get("schools"):
        return "、".join(map(str, entry["schools"]))
    if entry.get("middle"):
        return str(entry["middle"])
    return _text(entry)


def _fields(
    section: str, key: str, old: Mapping[str, Any], new: Mapping[str, Any], names: Sequence[str]
) -> Iterator[Change]:
    for name in names:
        if old.get(name) != new.get(name):
            yield Change(
                section, key, ChangeKind.CHANGED, name, _text(old.get(name)), _text(new.get(name))
            )


def _plan(school: Mapping[str, Any]) -> int:
    return max(int(school["classes"]) * int(school["class_size"]) - int(school["reserved"]), 0)


def _schools(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> Iterator[Change]:
    for code, school in new.items():
        if code not in old:
            summary = f"{school['name']}，计划 {_plan(school)} 个学位"
            yield Change("schools", code, ChangeKind.ADDED, after=summary)
            continue
        yield from _fields("schools", code, old[code], school, SCHOOL_FIELDS)
        if _plan(old[code]) != _plan(school):
            before, after = str(_plan(old[code])), str(_plan(school))
            yield Change("schools", code, ChangeKind.CHANGED, "plan", before, after)
    for code, school in old.items():
        if code not in new:
            yield Change("schools", code, ChangeKind.REMOVED, before=str(school["name"]))


def _entries(
    section: str, old: list[dict[str, Any]], new: list[dict[str, Any]], key: Sequence[str]
) -> Iterator[Change]:
    def ident(entry: Mapping[str, Any]) -> str:
        return "/".join(str(entry[k]) for k in key if entry.get(k) is not None)

    was = {ident(e): e for e in old}
    now = {ident(e): e for e in new}
    for name, entry in now.items():
        if name not in was:
            yield Change(section, name, ChangeKind.ADDED, after=_summary(entry))
        else:
            fields = sorted(set(was[name]) | set(entry))
            yield from _fields(section, name, was[name], entry, fields)
    for name, entry in was.items():
        if name not in now:
            yield Change(section, name, ChangeKind.REMOVED, before=_summary(entry))
    kept_before = [name for name in was if name in now]
    kept_after = [name for name in now if name in was]
    if kept_before != kept_after:  # the order matters: categories are tried in order (顺位)
        before, after = "、".join(kept_before), "、".join(kept_after)
        yield Change(section, "(order)", ChangeKind.CHANGED, "order", before, after)


def _tree(section: str, path: str, old: Any, new: Any) -> Iterator[Change]:
    """Tables compared key by key down to their leaves; anything else as a whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for name in sorted(set(old) | set(new)):
            yield from _tree(section, f"{path}.{name}", old.get(name), new.get(name))
        return
    if old == new or (old is None and new in ([], {})) or (new is None and old in ([], {})):
        return
    key = path.removeprefix(section).removeprefix(".") or section
    if old is None:
        yield Change(section, key, ChangeKind.ADDED, after=_text(new))
    elif new is None:
        yield Change(section, key, ChangeKind.REMOVED, before=_text(old))
    else:
        yield Change(section, key, ChangeKind.CHANGED, None, _text(old), _text(new))
