"""Spreadsheet imports of a season file: the ``[imports]`` table names CSV or XLSX files
(relative to the TOML) of schools, plans, zones and 小升初 feeder mappings, and their rows are
merged into the season data before it is validated, each remembering its file and row.

Headers may be Chinese or English (学校代码 or ``code``); a few values districts write in
words are read as the season file spells them (公办/民办, 小学/初中, a township's name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ruxue_core.season_issues import Origin, Provenance, SeasonIssue
from ruxue_core.sheets import Row, read_sheet


class ImportSource(BaseModel):
    """One imported file: a path relative to the season TOML, and an XLSX worksheet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1)
    sheet: str | None = None

    @property
    def label(self) -> str:
        """How problems name it: the path as written, and the worksheet if any."""
        return f"{self.file}#{self.sheet}" if self.sheet else self.file


class SeasonImports(BaseModel):
    """The ``[imports]`` table: for each list, a file or several (``"schools.csv"``,
    ``["a.csv", "b.xlsx"]`` or ``{ file = "lists.xlsx", sheet = "学校" }``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schools: list[ImportSource] = Field(default_factory=list)
    plans: list[ImportSource] = Field(default_factory=list)
    zones: list[ImportSource] = Field(default_factory=list)
    feeders: list[ImportSource] = Field(default_factory=list)

    @field_validator("schools", "plans", "zones", "feeders", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        return [{"file": item} if isinstance(item, str) else item for item in items]


Converter = Callable[[Mapping[str, str], "_Context"], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of sheet: its columns (canonical name → header spellings), the ones the
    header must have, and how a row becomes an entry of the season data."""

    columns: Mapping[str, Sequence[str]]
    required: Sequence[str]
    convert: Converter


@dataclass(frozen=True, slots=True)
class _Context:
    stage: Any
    townships: Mapping[str, str]  # township name → code


_PUBLIC: Final = {"公办": "true", "民办": "false", "是": "true", "否": "false"}
_STAGES: Final = {"小学": "primary", "初中": "junior"}
_LIST_SPLIT: Final = re.compile(r"[,，、;；\s]+")


def _school(cells: Mapping[str, str], ctx: _Context) -> dict[str, Any]:
    entry: dict[str, Any] = dict(cells)
    entry["stage"] = _STAGES.get(cells["stage"], cells["stage"]) if "stage" in cells else ctx.stage
    if "public" in cells:
        entry["public"] = _PUBLIC.get(cells["public"], cells["public"])
    if "township" in cells:
        entry["township"] = ctx.townships.get(cells["township"], cells["township"])
    return entry


def _zone(cells: Mapping[str, str], ctx: _Context) -> dict[str, Any]:
    entry: dict[str, Any] = dict(cells)
    if "township" in cells:
        entry["township"] = ctx.townships.get(cells["township"], cells["township"])
    if "schools" in cells:
        entry["schools"] = [code for code in _LIST_SPLIT.split(cells["schools"]) if code]
    return entry


def _as_is(cells: Mapping[str, str], ctx: _Context) -> dict[str, Any]:
    return dict(cells)


CODE: Final = ("学校代码", "学校编码", "school_code")
NAME: Final = ("学校名称", "校名", "school_name")
PLAN_COLUMNS: Final[Mapping[str, Sequence[str]]] = {
    "code": CODE,
    "classes": ("班级数", "计划班数", "招生班数"),
    "class_size": ("班额", "每班人数"),
    "reserved": ("预留学位", "预留学位数", "预留"),
}
KINDS: Final[Mapping[str, _Kind]] = {
    "schools": _Kind(
        {
            **PLAN_COLUMNS,
            "name": NAME,
            "stage": ("学段",),
            "public": ("办学性质", "公办", "公办/民办"),
            "township": ("乡镇", "乡镇代码", "乡镇街道", "所属乡镇"),
        },
        ("code", "name"),
        _school,
    ),
    "zones": _Kind(
        {
            "township": ("乡镇", "乡镇代码", "乡镇街道"),
            "village": ("村/社区", "村社区", "村", "社区"),
            "estate": ("小区", "楼盘", "小区名称"),
            "schools": ("划片学校", "对口学校", "学校代码", "school_codes"),
        },
        ("township", "schools"),
        _zone,
    ),
    "feeders": _Kind(
        {
            "primary": ("小学代码", "小学学校代码", "primary_school"),
            "primary_name": ("小学名称",),
            "middle": ("初中代码", "对口初中代码", "对口初中", "middle_school"),
        },
        ("primary", "middle"),
        _as_is,
    ),
}


@dataclass(frozen=True, slots=True)
class Merged:
    """Season data with the imported rows in it, where each entry came from, and the
    problems met reading the files (the season's own validation adds the rest)."""

    data: dict[str, Any]
    provenance: Provenance
    issues: list[SeasonIssue]


def merge_imports(data: Mapping[str, Any], base: Path, toml: str) -> Merged:
    """Read the files ``data["imports"]`` names (relative to ``base``) and merge their rows.

    Schools, zones and feeders are appended after the TOML's own entries; a plan row sets
    ``classes``, ``class_size`` and ``reserved`` of a school already listed.
    """
    merged = dict(data)
    provenance = Provenance(toml)
    imports = _imports(data.get("imports", {}))
    season = data.get("season")
    regions = data.get("regions")
    context = _Context(
        stage=season.get("stage") if isinstance(season, dict) else None,
        townships={
            str(r["name"]): str(r["code"])
            for r in (regions if isinstance(regions, list) else [])
            if isinstance(r, dict) and r.get("level") == "township" and "name" in r and "code" in r
        },
    )
    issues: list[SeasonIssue] = []
    for name, kind in KINDS.items():
        sources: list[ImportSource] = getattr(imports, name)
        if not sources:
            continue
        entries = data.get(name, [])
        if not isinstance(entries, list):
            continue  # not a list in the TOML: the season's validation reports it
        entries = list(entries)
        for source in sources:
            for row in _rows(base, source, kind, issues):
                provenance.entries[(name, len(entries))] = Origin(source.label, row.number)
                entries.append(kind.convert(row.cells, context))
        merged[name] = entries
    _merge_plans(merged, base, imports.plans, provenance, issues)
    return Merged(merged, provenance, issues)


def _imports(raw: Any) -> SeasonImports:
    """The ``[imports]`` table, keeping the lists that are valid when others are not (the
    season's own validation reports those), so that the files named are still checked."""
    try:
        return SeasonImports.model_validate(raw)
    except ValidationError:
        pass
    valid: dict[str, Any] = {}
    for name in SeasonImports.model_fields:
        if isinstance(raw, dict) and name in raw:
            try:
                SeasonImports.model_validate({name: raw[name]})
            except ValidationError:
                continue
            valid[name] = raw[name]
    return SeasonImports.model_validate(valid)


def _rows(base: Path, source: ImportSource, kind: _Kind, issues: list[SeasonIssue]) -> list[Row]:
    """A sheet's rows, its problems added to ``issues``; no rows if it cannot be used."""
    sheet = read_sheet(base / source.file, kind.columns, required=kind.required, sheet=source.sheet)
    issues.extend(
        SeasonIssue(source.label, p.row, p.column, p.code, p.message) for p in sheet.problems
    )
    unusable = any(p.row is None or p.code == "missing_column" for p in sheet.problems)
    return [] if unusable else sheet.rows


def _merge_plans(
    merged: dict[str, Any],
    base: Path,
    sources: Sequence[ImportSource],
    provenance: Provenance,
    issues: list[SeasonIssue],
) -> None:
    schools = merged.get("schools", [])
    if not sources or not isinstance(schools, list):
        return
    schools = list(schools)
    index: dict[Any, int] = {}
    for i, school in enumerate(schools):
        if isinstance(school, dict):
            index.setdefault(school.get("code"), i)
    planned: dict[str, Origin] = {}
    kind = _Kind({**PLAN_COLUMNS, "name": NAME}, ("code", "classes"), _as_is)
    for source in sources:
        for row in _rows(base, source, kind, issues):
            code = row.cells.get("code", "")
            origin = Origin(source.label, row.number)
            if code not in index:
                issues.append(
                    SeasonIssue(
                        origin.file, row.number, "code", "unknown_school", "学校不在学校名单中"
                    )
                )
                continue
            if code in planned:
                first = planned[code]
                issues.append(
                    SeasonIssue(
                        origin.file,
                        row.number,
                        "code",
                        "duplicate_plan",
                        f"该校的招生计划重复（首次见于第 {first.row} 行）",
                    )
                )
                continue
            planned[code] = origin
            i = index[code]
            named = row.cells.get("name")
            if named is not None and named != schools[i].get("name"):
                message = f"学校名称与学校名单不一致（名单中为「{schools[i].get('name')}」）"
                issues.append(
                    SeasonIssue(origin.file, row.number, "name", "name_mismatch", message)
                )
            values = {k: v for k, v in row.cells.items() if k in PLAN_COLUMNS and k != "code"}
            schools[i] = {**schools[i], **values}
            for column in values:
                provenance.fields[("schools", i, column)] = origin
    merged["schools"] = schools
