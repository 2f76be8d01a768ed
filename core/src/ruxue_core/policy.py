"""Policy as data: a season's TOML file (windows, age rule, regions, schools, zones, 小升初
feeders, SMS templates) and the spreadsheets its ``[imports]`` table names, validated with
pydantic; a wrong file is refused with every problem, each naming its file, row and field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from ruxue_core.domain.enums import Stage, Status
from ruxue_core.notify import ALLOWED_PARAMS, template_fields
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.rules.facts import ADDRESS_SOURCES, PREDICATES
from ruxue_core.season_imports import SeasonImports, merge_imports
from ruxue_core.season_issues import (
    Loc,
    Provenance,
    ReferenceProblems,
    SeasonFileInvalid,
    SeasonIssue,
    issues_of,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeasonInfo(_Strict):
    """The ``[season]`` table."""

    code: str = Field(pattern=r"^[a-z0-9-]{3,32}$")
    name: str
    year: int = Field(ge=2000, le=2100)
    stage: Stage
    age_cutoff: date = Field(description="latest birth date of age (usually 31 Aug)")
    earliest_birth: date | None = Field(
        default=None, description="earliest birth date of age; default: a year before the cutoff"
    )
    deferral_earliest: date | None = Field(
        default=None, description="older children (缓学) born from here go to manual review"
    )
    early_entry_latest: date | None = Field(
        default=None, description="younger children (提前入学) born up to here go to manual review"
    )
    opens_at: datetime
    closes_at: datetime

    @property
    def earliest(self) -> date:
        """The earliest birth date of age."""
        if self.earliest_birth is not None:
            return self.earliest_birth
        return self.age_cutoff.replace(year=self.age_cutoff.year - 1) + timedelta(days=1)

    @model_validator(mode="after")
    def _window(self) -> SeasonInfo:
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        if self.earliest > self.age_cutoff:
            raise ValueError("earliest_birth must not be after age_cutoff")
        if self.deferral_earliest is not None and self.deferral_earliest >= self.earliest:
            raise ValueError("deferral_earliest must be before earliest_birth")
        if self.early_entry_latest is not None and self.early_entry_latest <= self.age_cutoff:
            raise ValueError("early_entry_latest must be after age_cutoff")
        if self.opens_at.tzinfo is None or self.closes_at.tzinfo is None:
            raise ValueError("opens_at and closes_at need a UTC offset, e.g. +08:00")
        return self


class RegionInfo(_Strict):
    """One ``[[regions]]`` entry; ``parent`` is the parent region's code."""

    code: str
    name: str
    level: str = Field(pattern=r"^(district|township|village)$")
    parent: str | None = None


class SchoolInfo(_Strict):
    """One ``[[schools]]`` entry."""

    code: str
    name: str
    stage: Stage
    public: bool = True
    township: str | None = None
    classes: int = Field(ge=0)
    class_size: int = Field(default=45, ge=1, le=60)
    reserved: int = Field(default=0, ge=0)


class SmsTemplate(_Strict):
    """A template attached to a status: a stable code and the Chinese text."""

    code: str = Field(pattern=r"^[A-Z0-9_]{3,64}$")
    text: str

    @model_validator(mode="after")
    def _fields(self) -> SmsTemplate:
        unknown = template_fields(self.text) - ALLOWED_PARAMS
        if unknown:
            raise ValueError(
                f"unknown placeholders {sorted(unknown)}; allowed: {sorted(ALLOWED_PARAMS)}"
            )
        return self


class SmsPolicy(_Strict):
    """The ``[sms]`` table: templates keyed by the status that sends them, and the report
    date (报到日期) the admission notice names.

    ``counter_templates`` replace a template for applications taken at a counter, whose
    families already handed in their papers: never tell them to log in or to come again.
    """

    templates: dict[Status, SmsTemplate] = Field(default_factory=dict)
    counter_templates: dict[Status, SmsTemplate] = Field(default_factory=dict)
    report_date: date | None = None


class ReviewRoute(StrEnum):
    """Who reviews a verified application (学校或区社会事务局审核): the season chooses."""

    SCHOOL = "school"
    BUREAU = "bureau"
    SCHOOL_THEN_BUREAU = "school_then_bureau"


class VerificationPolicy(_Strict):
    """The ``[verification]`` table: how checks are turned into a decision."""

    review_route: ReviewRoute = ReviewRoute.SCHOOL_THEN_BUREAU
    insurance_window_months: int = Field(
        default=12, ge=1, le=120, description="social insurance is counted over this window"
    )
    insurance_months: int = Field(
        default=6, ge=0, le=120, description="months paid in the window that count as insured"
    )


class CategoryRule(_Strict):
    """One ``[[categories]]`` entry: 入学类别 (顺位), tried in file order, first match wins.

    ``when`` lists predicate names (``not_`` negates one) that must all hold; the names are
    those of :data:`ruxue_core.rules.facts.PREDICATES`. ``address_from`` names the facts
    (``hukou``, ``property``, ``residence_permit``) whose address may prove the declared one.
    """

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")
    name: str
    when: list[str] = Field(min_length=1)
    address_from: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> CategoryRule:
        for name in self.when:
            if name.removeprefix("not_") not in PREDICATES:
                raise ValueError(f"unknown predicate {name!r}; known: {sorted(PREDICATES)}")
        for source in self.address_from:
            if source not in ADDRESS_SOURCES:
                raise ValueError(f"address_from: unknown source {source!r}")
        return self


class MaterialRule(_Strict):
    """One ``[[materials]]`` entry (annex 1). Asked for only when no check proved the fact
    its ``source`` stands for; ``always`` ones always, ``on_form`` ones never (the form
    itself is the material). ``townships`` restricts it (empty: every township)."""

    code: str = Field(pattern=r"^[a-z0-9_]{2,32}$")
    name: str
    source: str | None = None
    always: bool = False
    on_form: bool = False
    townships: list[str] = Field(default_factory=list)


class ZoneRule(_Strict):
    """One ``[[zones]]`` entry: an address rule township → village/community → estate naming
    one or more schools (多校划片). The most specific rule matching an address wins."""

    township: str
    village: str | None = None
    estate: str | None = None
    schools: list[str] = Field(min_length=1)


class FeederRule(_Strict):
    """One ``[[feeders]]`` entry (小升初对口直升): a primary school's graduates move up to
    ``middle``, a school of this (初中) season. The primary school belongs to a primary
    season, so only its code's shape is checked here; ``primary_name`` is for people."""

    primary: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    primary_name: str | None = None
    middle: str


class CaseItem(_Strict):
    """The ``[case]`` table: the season's item in the province's item library (事项库), which
    every provincial case record names (办件数据回传)."""

    item_code: str = Field(min_length=1, max_length=64, description="事项编码 (基本编码)")
    item_name: str = Field(min_length=1, max_length=200, description="事项名称")
    implementation_code: str = Field(min_length=1, max_length=64, description="实施编码")
    department_code: str = Field(min_length=1, max_length=64, description="受理部门编码")
    department_name: str = Field(min_length=1, max_length=100, description="受理部门")
    promise_days: int | None = Field(
        default=None, ge=0, le=365, description="承诺时限: days from acceptance"
    )
    promised_by: date | None = Field(
        default=None, description="承诺办结日期: a fixed date (the results date), if earlier"
    )


class GuidePlace(_Strict):
    """Where to apply in person (受理地点)."""

    name: str
    address: str
    hours: str


class GuideContact(_Strict):
    """A contact for questions (咨询电话); ``assumed`` marks a sample value to replace."""

    name: str
    phone: str = Field(pattern=r"^[0-9-]{5,20}$")
    assumed: bool = False


class GuideStep(_Strict):
    """One step of the procedure (办理流程) and its time limit (办理时限)."""

    name: str
    description: str
    time_limit: str


class TownshipGuide(_Strict):
    """One township's part of the guide: where to apply, whom to ask, local notes."""

    places: list[GuidePlace] = Field(min_length=1)
    contacts: list[GuideContact] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)


class ServiceGuide(_Strict):
    """The ``[guide]`` table: the service guide (办事指南, annex 1 of the plan). Materials come
    from ``[[materials]]``, the registration window from ``[season]``, the promised time from
    ``[case]``; the rest is written here, per township where it differs."""

    conditions: list[str] = Field(min_length=1)
    steps: list[GuideStep] = Field(min_length=1)
    online: list[str] = Field(default_factory=list, description="where to apply online")
    fees: str = "不收费"
    legal_basis: list[str] = Field(default_factory=list)
    townships: dict[str, TownshipGuide] = Field(default_factory=dict)


class SeasonFile(_Strict):
    """A whole season file."""

    season: SeasonInfo
    regions: list[RegionInfo] = Field(default_factory=list)
    schools: list[SchoolInfo] = Field(default_factory=list)
    sms: SmsPolicy = Field(default_factory=SmsPolicy)
    case: CaseItem | None = None
    verification: VerificationPolicy = Field(default_factory=VerificationPolicy)
    categories: list[CategoryRule] = Field(default_factory=list)
    materials: list[MaterialRule] = Field(default_factory=list)
    zones: list[ZoneRule] = Field(default_factory=list)
    guide: ServiceGuide | None = None
    placement: PlacementPolicy = Field(default_factory=PlacementPolicy)
    feeders: list[FeederRule] = Field(default_factory=list)
    imports: SeasonImports = Field(default_factory=SeasonImports)

    @model_validator(mode="after")
    def _references(self) -> SeasonFile:
        problems = _reference_problems(_Entries.of(self))
        if problems:
            raise ReferenceProblems(problems)
        townships = {r.code for r in self.regions if r.level == "township"}
        self.placement.check_references({s.code for s in self.schools}, townships)
        if self.guide is not None and set(self.guide.townships) - townships:
            raise ValueError("guide names an unknown township")
        return self

    def policy_json(self) -> dict[str, Any]:
        """The part stored on the season row as its policy."""
        policy: dict[str, Any] = {"sms": self.sms.model_dump(mode="json")}
        if self.case is not None:
            policy["case"] = self.case.model_dump(mode="json")
        policy["verification"] = self.verification.model_dump(mode="json")
        policy["categories"] = [c.model_dump(mode="json") for c in self.categories]
        policy["materials"] = [m.model_dump(mode="json") for m in self.materials]
        policy["zones"] = [z.model_dump(mode="json") for z in self.zones]
        if self.guide is not None:
            policy["guide"] = self.guide.model_dump(mode="json")
        policy["feeders"] = [f.model_dump(mode="json") for f in self.feeders]
        policy["schools"] = [s.code for s in self.schools]
        policy["townships"] = {r.code: r.name for r in self.regions if r.level == "township"}
        policy["placement"] = self.placement.model_dump(mode="json")
        return policy


@dataclass(frozen=True, slots=True)
class _Entries:
    """A season's entries as cross-reference checks see them: ``None`` for an entry that
    failed validation, whose code (``loose``) still counts as existing, so that one bad
    row is reported once, not again by every entry naming it."""

    stage: Stage | None
    regions: Sequence[RegionInfo | None]
    schools: Sequence[SchoolInfo | None]
    categories: Sequence[CategoryRule | None]
    materials: Sequence[MaterialRule | None]
    zones: Sequence[ZoneRule | None]
    feeders: Sequence[FeederRule | None]
    loose: Mapping[str, set[str]] = field(default_factory=dict)
    raw_codes: Mapping[str, Sequence[str | None]] = field(default_factory=dict)

    @classmethod
    def of(cls, season: SeasonFile) -> _Entries:
        """A valid season's entries."""
        return cls(
            season.season.stage,
            season.regions,
            season.schools,
            season.categories,
            season.materials,
            season.zones,
            season.feeders,
        )

    @classmethod
    def partial(cls, data: Mapping[str, Any]) -> _Entries:
        """The entries of season data that failed validation, each validated alone."""
        loose: dict[str, set[str]] = {}
        raw_codes: dict[str, list[str | None]] = {}

        def each(section: str, model: type[_M]) -> list[_M | None]:
            raw = data.get(section, [])
            entries: list[_M | None] = []
            key = "primary" if section == "feeders" else "code"
            for entry in raw if isinstance(raw, list) else []:
                code = entry.get(key) if isinstance(entry, dict) else None
                raw_codes.setdefault(section, []).append(code if isinstance(code, str) else None)
                try:
                    entries.append(model.model_validate(entry))
                except ValidationError:
                    entries.append(None)
                    if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                        loose.setdefault(section, set()).add(entry["code"])
            return entries

        try:
            stage: Stage | None = SeasonInfo.model_validate(data.get("season")).stage
        except ValidationError:
            stage = None
        return cls(
            stage,
            each("regions", RegionInfo),
            each("schools", SchoolInfo),
            each("categories", CategoryRule),
            each("materials", MaterialRule),
            each("zones", ZoneRule),
            each("feeders", FeederRule),
            loose,
            raw_codes,
        )


_M = TypeVar("_M", bound=BaseModel)


def _reference_problems(season: _Entries) -> list[tuple[Loc, str, str]]:
    """Every entry naming something the season does not have, and every duplicate code."""
    problems: list[tuple[Loc, str, str]] = []
    loose_regions = season.loose.get("regions", set())
    townships = {r.code for r in season.regions if r and r.level == "township"} | loose_regions
    schools = {s.code: s for s in season.schools if s}
    known_schools = set(schools) | season.loose.get("schools", set())
    for section, codes in (
        ("regions", [r.code if r else None for r in season.regions]),
        ("schools", [s.code if s else None for s in season.schools]),
        ("categories", [c.code if c else None for c in season.categories]),
        ("materials", [m.code if m else None for m in season.materials]),
        ("feeders", [f.primary if f else None for f in season.feeders]),
    ):
        first: dict[str, int] = {}
        key = "primary" if section == "feeders" else "code"
        for i, code in enumerate(season.raw_codes.get(section, codes)):
            if code is None:
                continue
            if code in first:
                message = f"代码 {code} 重复（每个代码只能出现一次）"
                problems.append(((section, i, key), f"duplicate_{section}", message))
            first.setdefault(code, i)
    for i, school in enumerate(season.schools):
        if school and school.township is not None and school.township not in townships:
            problems.append(
                (("schools", i, "township"), "unknown_township", f"乡镇 {school.township} 不存在")
            )
    for i, zone in enumerate(season.zones):
        if zone is None:
            continue
        if zone.township not in townships:
            problems.append(
                (("zones", i, "township"), "unknown_township", f"乡镇 {zone.township} 不存在")
            )
        for code in zone.schools:
            if code not in known_schools:
                problems.append(
                    (("zones", i, "schools"), "unknown_school", f"学校 {code} 不在学校名单中")
                )
    for i, material in enumerate(season.materials):
        for code in material.townships if material else ():
            if code not in townships:
                message = f"乡镇 {code} 不存在"
                problems.append((("materials", i, "townships"), "unknown_township", message))
    if any(season.feeders) and season.stage not in (None, Stage.JUNIOR):
        problems.append(
            (("feeders",), "feeders_need_junior_season", "只有初中招生季可设小升初对口")
        )
    for i, feeder in enumerate(season.feeders):
        if feeder is None:
            continue
        middle = schools.get(feeder.middle)
        if feeder.middle not in known_schools:
            message = f"初中 {feeder.middle} 不在学校名单中"
            problems.append((("feeders", i, "middle"), "unknown_school", message))
        elif middle is not None and middle.stage is not Stage.JUNIOR:
            message = f"学校 {feeder.middle} 不是初中"
            problems.append((("feeders", i, "middle"), "not_a_middle_school", message))
        if feeder.primary in known_schools:
            message = f"学校 {feeder.primary} 是本招生季的学校，不是对口小学"
            problems.append((("feeders", i, "primary"), "primary_in_season", message))
    return problems


def parse_season(data: dict[str, Any], provenance: Provenance | None = None) -> SeasonFile:
    """Validate season data.

    :param provenance: where imported entries came from (their file and row).
    :raises SeasonFileInvalid: with every problem, each naming file, row and field.
    """
    provenance = provenance or Provenance("(season)")
    try:
        return SeasonFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        issues = issues_of(errors, provenance)
    if not any(isinstance((e.get("ctx") or {}).get("error"), ReferenceProblems) for e in errors):
        # Some entries are invalid, so the whole-season checks did not run: run them over
        # the valid ones, for every problem to be reported at once.
        problems = _reference_problems(_Entries.partial(data))
        issues += issues_of([_as_error(problems)], provenance) if problems else []
    raise SeasonFileInvalid(issues)


def _as_error(problems: list[tuple[Loc, str, str]]) -> ErrorDetails:
    return {
        "type": "value_error",
        "loc": (),
        "msg": "",
        "input": None,
        "ctx": {"error": ReferenceProblems(problems)},
    }


def read_season_file(path: Path) -> SeasonFile:
    """Read a season TOML file, merge the spreadsheets it imports, and validate the whole.

    :raises SeasonFileInvalid: every problem in the TOML and the imported files.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        issue = SeasonIssue(path.name, None, "(file)", "toml_syntax", f"不是合法的 TOML：{exc}")
        raise SeasonFileInvalid([issue]) from None
    merged = merge_imports(data, path.parent, path.name)
    try:
        season = parse_season(merged.data, merged.provenance)
    except SeasonFileInvalid as exc:
        raise SeasonFileInvalid([*merged.issues, *exc.issues]) from None
    if merged.issues:
        raise SeasonFileInvalid(merged.issues)
    return season
