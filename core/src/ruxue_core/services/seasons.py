"""Season use cases: load (or reload) a season's policy, regions and schools, or only say
what loading would change (a dry run)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Region, School, Season
from ruxue_core.domain.enums import Role
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.season_diff import (
    SCHOOL_FIELDS,
    SEASON_FIELDS,
    SeasonDiff,
    SeasonState,
    diff_states,
    file_state,
    jsonable,
)
from ruxue_core.uow import UnitOfWork

#: Changes written into the audit entry in full; past this, only the counts.
AUDITED_CHANGES: Final = 200


@dataclass(frozen=True, slots=True)
class SeasonLoad:
    """The result of loading a season file: what it changed (or, in a dry run, would
    change) and whether anything was written."""

    code: str
    name: str
    diff: SeasonDiff
    applied: bool


async def load_season(
    rt: Runtime,
    data: SeasonFile,
    principal: Principal | None,
    *,
    window: tuple[datetime, datetime] | None = None,
    dry_run: bool = False,
) -> SeasonLoad:
    """Create or update the season, its regions and schools from a validated file, in one
    transaction with an audit entry holding the diff. Loading what is already stored
    writes nothing.

    :param window: override the registration window (the demo opens it around now).
    :param dry_run: only compare the file with the stored season; write nothing.
    :raises Forbidden: not an admin, a bureau officer or the system.
    """
    actor = require_role(principal, Role.ADMIN, Role.BUREAU_OFFICER, Role.SYSTEM)
    if dry_run:
        diff = await rt.read(lambda uow: _diff(uow, data, window))
        return SeasonLoad(data.season.code, data.season.name, diff, applied=False)
    return await rt.write(lambda uow: _load(uow, data, actor, window))


def _diff(
    uow: UnitOfWork, data: SeasonFile, window: tuple[datetime, datetime] | None
) -> SeasonDiff:
    """The file against the stored season, read in the caller's transaction."""
    after = file_state(data, window)
    return diff_states(data.season.code, stored_state(uow, data), after)


def stored_state(uow: UnitOfWork, data: SeasonFile) -> SeasonState:
    """The stored season the file would replace. Its schools are the ones its last load
    listed; a new season, or one loaded before lists were kept, counts the file's schools
    already in the database; its regions are the file's already there."""
    info = data.season
    season = uow.session.exec(select(Season).where(Season.code == info.code)).first()
    policy: dict[str, Any] = season.policy if season is not None else {}
    roster: list[str] = policy.get("schools") or [s.code for s in data.schools]
    names = {s.code for s in data.regions}
    rows = uow.session.exec(select(Region).where(col(Region.code).in_(names))).all()
    regions = {r.id: r for r in rows}
    parents = {r.parent_id for r in rows if r.parent_id is not None} - set(regions)
    if parents:
        regions |= {
            r.id: r for r in uow.session.exec(select(Region).where(col(Region.id).in_(parents)))
        }
    order = {code: i for i, code in enumerate(roster)}
    schools = uow.session.exec(select(School).where(col(School.code).in_(roster))).all()
    township = {r.id: r.code for r in regions.values()}
    missing = {s.township_id for s in schools if s.township_id not in township} - {None}
    if missing:
        township |= {
            r.id: r.code
            for r in uow.session.exec(select(Region).where(col(Region.id).in_(missing)))
        }

    def school_values(school: School) -> dict[str, Any]:
        values = {name: jsonable(getattr(school, name, None)) for name in SCHOOL_FIELDS}
        return values | {"township": township.get(school.township_id)}

    return SeasonState(
        season={name: jsonable(getattr(season, name)) for name in SEASON_FIELDS} if season else {},
        regions={
            r.code: {
                "name": r.name,
                "level": r.level,
                "parent": regions[r.parent_id].code if r.parent_id in regions else None,
            }
            for r in rows
        },
        schools={s.code: school_values(s) for s in sorted(schools, key=lambda s: order[s.code])},
        policy=policy,
        loaded=season is not None,
    )


def _load(
    uow: UnitOfWork,
    data: SeasonFile,
    actor: Principal,
    window: tuple[datetime, datetime] | None,
) -> SeasonLoad:
    diff = _diff(uow, data, window)
    info = data.season
    if diff.empty:
        return SeasonLoad(info.code, info.name, diff, applied=False)
    opens_at, closes_at = window or (info.opens_at, info.closes_at)
    season = (uow.session.exec(select(Season).where(Season.code == info.code))).first()
    season = season or Season(
        code=info.code,
        name=info.name,
        year=info.year,
        stage=info.stage,
        age_cutoff=info.age_cutoff,
        earliest_birth=info.earliest,
        opens_at=opens_at,
        closes_at=closes_at,
    )
    season.sqlmodel_update(
        {
            "name": info.name,
            "year": info.year,
            "stage": info.stage,
            "age_cutoff": info.age_cutoff,
            "earliest_birth": info.earliest,
            "deferral_earliest": info.deferral_earliest,
            "early_entry_latest": info.early_entry_latest,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "policy": data.policy_json(),
        }
    )
    uow.session.add(season)
    regions: dict[str, Region] = {}
    for entry in data.regions:
        region = (uow.session.exec(select(Region).where(Region.code == entry.code))).first()
        region = region or Region(code=entry.code, name=entry.name, level=entry.level)
        parent = regions.get(entry.parent) if entry.parent else None
        region.sqlmodel_update(
            {"name": entry.name, "level": entry.level, "parent_id": parent.id if parent else None}
        )
        uow.session.add(region)
        uow.session.flush()
        regions[entry.code] = region
    for item in data.schools:
        school = (uow.session.exec(select(School).where(School.code == item.code))).first()
        school = school or School(code=item.code, name=item.name, stage=item.stage)
        township = regions.get(item.township) if item.township else None
        school.sqlmodel_update(
            {
                "name": item.name,
                "stage": item.stage,
                "public": item.public,
                "township_id": township.id if township else None,
                "classes": item.classes,
                "class_size": item.class_size,
                "reserved": item.reserved,
            }
        )
        uow.session.add(school)
    uow.session.flush()
    uow.audit(
        AuditEntry(
            actor.id, actor.role.value, "season.load", "season", info.code, _audited(diff, data)
        )
    )
    uow.commit()
    return SeasonLoad(info.code, info.name, diff, applied=True)


def _audited(diff: SeasonDiff, data: SeasonFile) -> dict[str, Any]:
    """The audit entry's data: counts, the changes (up to a limit) and a digest of what
    was loaded, so a published season file can be matched with the entry."""
    loaded = json.dumps(data.model_dump(mode="json", exclude={"imports"}), sort_keys=True)
    changes = [
        {k: jsonable(v) for k, v in asdict(c).items() if v is not None}
        for c in diff.changes[:AUDITED_CHANGES]
    ]
    return {
        "new": diff.new,
        "regions": len(data.regions),
        "schools": len(data.schools),
        "counts": diff.counts(),
        "changes": changes,
        "truncated": len(diff.changes) > AUDITED_CHANGES,
        "sha256": hashlib.sha256(loaded.encode()).hexdigest(),
    }
