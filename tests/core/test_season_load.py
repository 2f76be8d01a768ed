"""Loading seasons into the database (SQLite, and PostgreSQL when configured): a dry run
reports the diff against the stored season and writes nothing; a load writes it in one
transaction with an audit entry; loading the same files again is a no-op."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import col, func, select

from ruxue_core.domain import AuditEvent, Region, School, Season
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Forbidden
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile, read_season_file
from ruxue_core.runtime import Runtime
from ruxue_core.season_diff import Change, ChangeKind
from ruxue_core.services.seasons import SeasonLoad, load_season
from ruxue_core.uow import UnitOfWork

SEASONS = Path(__file__).resolve().parents[2] / "contrib" / "seasons"
SYSTEM = Principal.system()


@pytest.fixture
def middle(tmp_path: Path) -> Path:
    """A copy of the sample middle-school season to edit."""
    shutil.copy(SEASONS / "linkong-2026-middle.toml", tmp_path)
    shutil.copytree(SEASONS / "linkong-2026-middle", tmp_path / "linkong-2026-middle")
    return tmp_path / "linkong-2026-middle.toml"


async def counts(runtime: Runtime) -> dict[str, int]:
    def work(uow: UnitOfWork) -> dict[str, int]:
        def count(model: Any) -> int:
            return uow.session.exec(select(func.count()).select_from(model)).one()

        loads = select(func.count()).where(col(AuditEvent.action) == "season.load")
        return {
            "seasons": count(Season),
            "schools": count(School),
            "regions": count(Region),
            "audit": uow.session.exec(loads).one(),
        }

    return await runtime.read(work)


async def load(runtime: Runtime, data: SeasonFile, *, dry_run: bool = False) -> SeasonLoad:
    return await load_season(runtime, data, SYSTEM, dry_run=dry_run)


def changes(result: SeasonLoad, section: str) -> set[tuple[str, ChangeKind, str | None]]:
    return {(c.key, c.kind, c.field) for c in result.diff.changes if c.section == section}


async def test_a_dry_run_reports_a_new_season_and_writes_nothing(runtime: Runtime) -> None:
    data = read_season_file(SEASONS / "linkong-2026-primary.toml")
    result = await load(runtime, data, dry_run=True)
    assert (result.code, result.applied, result.diff.new) == ("2026-primary", False, True)
    assert result.diff.counts()["schools"] == {"added": 12}
    assert result.diff.counts()["zones"] == {"added": 14}
    assert result.diff.counts()["categories"] == {"added": 4}
    added = next(c for c in result.diff.changes if c.key == "LK-SW-01")
    assert added == Change(
        "schools", "LK-SW-01", ChangeKind.ADDED, after="沙窝乡中心小学，计划 85 个学位"
    )
    assert await counts(runtime) == {"seasons": 0, "schools": 0, "regions": 0, "audit": 0}


async def test_load_then_reload_is_a_no_op(runtime: Runtime) -> None:
    data = read_season_file(SEASONS / "linkong-2026-primary.toml")
    first = await load(runtime, data)
    assert first.applied and not first.diff.empty
    assert await counts(runtime) == {"seasons": 1, "schools": 12, "regions": 9, "audit": 1}
    again = await load(runtime, read_season_file(SEASONS / "linkong-2026-primary.toml"))
    assert again.diff.empty and not again.applied
    assert (await load(runtime, data, dry_run=True)).diff.changes == ()
    assert (await counts(runtime))["audit"] == 1  # nothing changed, nothing written


async def test_the_middle_season_shares_regions_and_adds_feeders(runtime: Runtime) -> None:
    await load(runtime, read_season_file(SEASONS / "linkong-2026-primary.toml"))
    middle = read_season_file(SEASONS / "linkong-2026-middle.toml")
    result = await load(runtime, middle)
    assert result.applied and result.diff.new
    assert "regions" not in result.diff.counts()  # the township tree is already there
    assert result.diff.counts()["feeders"] == {"added": 11}
    assert ("LK-HH-02", ChangeKind.ADDED, None) in changes(result, "feeders")
    assert await counts(runtime) == {"seasons": 2, "schools": 21, "regions": 9, "audit": 2}
    assert (await load(runtime, middle)).diff.empty


def edit_middle(middle: Path) -> None:
    """One change of each kind to the copy of the middle season."""
    folder = middle.parent / "linkong-2026-middle"
    workbook = load_workbook(folder / "lists.xlsx")
    workbook["招生计划"]["C5"] = 8  # LK-HH-M1: 7 → 8 classes
    workbook["小升初对口"]["C3"] = "LK-YJ-M1"  # LK-YY-01 now feeds 燕矶镇中学
    workbook["招生计划"].delete_rows(10)  # the private school's plan, removed below
    workbook.save(folder / "lists.xlsx")
    lines = (folder / "schools.csv").read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.startswith("LK-KG-M1")]  # the private school
    (folder / "schools.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (folder / "zones.csv").open("a", encoding="utf-8") as zones:
        zones.write("花湖镇,机场社区,,LK-HH-M1\n")
    text = middle.read_text(encoding="utf-8")
    a, b = text.index('[[categories]]\ncode = "A"'), text.index('[[categories]]\ncode = "B"')
    text = text[:a] + text[b:].replace("# Materials", text[a:b] + "# Materials", 1)
    text = text.replace('name = "小学《素质报告书》"', 'name = "小学《学生素质报告书》"')
    middle.write_text(text, encoding="utf-8")


async def test_the_diff_names_every_kind_of_change(runtime: Runtime, middle: Path) -> None:
    await load(runtime, read_season_file(middle))
    edit_middle(middle)
    before = await counts(runtime)

    result = await load(runtime, read_season_file(middle), dry_run=True)
    assert not result.diff.new
    assert changes(result, "schools") == {
        ("LK-HH-M1", ChangeKind.CHANGED, "classes"),
        ("LK-HH-M1", ChangeKind.CHANGED, "plan"),
        ("LK-KG-M1", ChangeKind.REMOVED, None),
    }
    plan = next(c for c in result.diff.changes if c.field == "plan")
    assert (plan.before, plan.after) == ("350", "400")
    assert changes(result, "feeders") == {("LK-YY-01", ChangeKind.CHANGED, "middle")}
    assert changes(result, "zones") == {("420704104/机场社区", ChangeKind.ADDED, None)}
    order = next(c for c in result.diff.changes if c.section == "categories")
    assert (order.field, order.before, order.after) == ("order", "A、B、C、D", "B、C、D、A")
    assert changes(result, "materials") == {("report_book", ChangeKind.CHANGED, "name")}
    assert {c.section for c in result.diff.changes} == {
        "schools",
        "feeders",
        "zones",
        "categories",
        "materials",
    }
    assert await counts(runtime) == before  # a dry run writes nothing

    applied = await load(runtime, read_season_file(middle))
    assert applied.applied and applied.diff == result.diff
    assert (await load(runtime, read_season_file(middle), dry_run=True)).diff.empty
    entry = await runtime.read(
        lambda uow: uow.session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action) == "season.load")
            .order_by(col(AuditEvent.id).desc())
        ).first()
    )
    assert entry is not None and entry.entity_id == "2026-middle"
    assert entry.data["counts"]["schools"] == {"changed": 1, "removed": 1}
    assert len(entry.data["changes"]) == len(result.diff.changes)
    assert len(entry.data["sha256"]) == 64


async def test_only_the_bureau_loads_seasons(runtime: Runtime) -> None:
    data = read_season_file(SEASONS / "linkong-2026-primary.toml")
    clerk = Principal("clerk", Role.COUNTER_STAFF, "窗口", region_code="420704101")
    with pytest.raises(Forbidden):
        await load_season(runtime, data, clerk, dry_run=True)


async def test_a_changed_policy_is_read_afresh(runtime: Runtime) -> None:
    await load(runtime, read_season_file(SEASONS / "linkong-2026-primary.toml"))

    def policy(uow: UnitOfWork) -> dict[str, Any]:
        return uow.session.exec(select(Season)).one().policy

    first, again = await runtime.read(policy), await runtime.read(policy)
    assert first is again  # the same stored text is decoded once

    def edit(uow: UnitOfWork) -> None:
        season = uow.session.exec(select(Season)).one()
        season.policy = {**season.policy, "sms": {"report_date": "9月1日"}}
        uow.session.add(season)
        uow.commit()

    await runtime.write(edit)
    edited = await runtime.read(policy)
    assert edited["sms"] == {"report_date": "9月1日"}
    assert edited["zones"] == first["zones"]
    assert first["sms"]["report_date"] == "2026-08-28"  # the first read is left as it was
