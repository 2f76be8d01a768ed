"""From verified facts to a decision: the season's rules, per township, decide the category
(first matching rule wins), whether the declared address is proven, the zoned school(s) and
the materials still needed.

Only a definite contradiction asks the family to correct something. A fact the data cannot
decide (no answer, source down, ambiguous record) leads to materials or manual review, with
the reason; a record that is simply absent (``NOT_FOUND``) makes its predicates false.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final

from ruxue_core.domain.enums import Outcome, Relationship
from ruxue_core.policy import CategoryRule, MaterialRule, VerificationPolicy, ZoneRule
from ruxue_core.rules.facts import (
    ADDRESS_SOURCES,
    CHILD_HUKOU,
    GUARDIAN_HUKOU,
    GUARDIAN_INSURANCE,
    GUARDIAN_PERMIT,
    GUARDIAN_PROPERTY,
    Check,
    predicate_checks,
)

Fact = str | int | bool | date | None


class Decision(StrEnum):
    """What verification concludes about an application."""

    VERIFIED = "verified"
    NEEDS_CORRECTION = "needs_correction"
    MANUAL_REVIEW = "manual_review"


@dataclass(frozen=True, slots=True)
class Answer:
    """One check's outcome and facts (dates as ``date`` or ISO strings)."""

    outcome: Outcome
    facts: Mapping[str, Fact] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeasonRules:
    """A season's verification rules, parsed from its stored policy."""

    policy: VerificationPolicy
    categories: tuple[CategoryRule, ...]
    materials: tuple[MaterialRule, ...]
    zones: tuple[ZoneRule, ...]
    townships: Mapping[str, str]
    reference_date: date

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any], reference_date: date) -> SeasonRules:
        """Parse the ``policy`` JSON stored on a season row."""
        return cls(
            policy=VerificationPolicy.model_validate(policy.get("verification", {})),
            categories=tuple(CategoryRule.model_validate(c) for c in policy.get("categories", [])),
            materials=tuple(MaterialRule.model_validate(m) for m in policy.get("materials", [])),
            zones=tuple(ZoneRule.model_validate(z) for z in policy.get("zones", [])),
            townships=dict(policy.get("townships", {})),
            reference_date=reference_date,
        )

    @classmethod
    def of(cls, policy: Mapping[str, Any], reference_date: date) -> SeasonRules:
        """:meth:`from_policy`, parsed once per policy object: a season's stored policy is
        decoded once and shared read-only (``SharedJSON``), so every verification of the
        season gets the same object, and parsing its zones each time cost more than
        judging the answers."""
        key = id(policy)
        hit = _PARSED.get(key)
        if hit is not None and hit[0] is policy and hit[1].reference_date == reference_date:
            return hit[1]
        parsed = cls.from_policy(policy, reference_date)
        if len(_PARSED) >= _PARSED_KEPT:
            _PARSED.pop(next(iter(_PARSED)), None)
        _PARSED[key] = (policy, parsed)  # holding the policy keeps its id from being reused
        return parsed

    def checks(self) -> tuple[Check, ...]:
        """The checks the season's categories need, child hukou first (it also proves the
        relationship); in a stable order."""
        needed: dict[Check, None] = {CHILD_HUKOU: None}
        for category in self.categories:
            for name in category.when:
                needed.update(dict.fromkeys(predicate_checks(name)))
            needed.update(dict.fromkeys(ADDRESS_SOURCES[s] for s in category.address_from))
        return tuple(needed)

    def materials_for(self, township: str | None) -> tuple[MaterialRule, ...]:
        """The materials (annex 1 and the township's additions) that apply in a township."""
        return tuple(m for m in self.materials if not m.townships or (township in m.townships))


_PARSED_KEPT: Final = 16
_PARSED: dict[int, tuple[Mapping[str, Any], SeasonRules]] = {}
"""Parsed rules by the id of the policy object they came from (see :meth:`SeasonRules.of`)."""


@dataclass(frozen=True, slots=True)
class Application:
    """What the family declared, as the rules need it."""

    address: str
    relationship: Relationship
    township_code: str | None
    age_exception: str | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The rules' conclusion about one application.

    :ivar corrections: what the family must correct (``child``, ``guardian``,
        ``relationship``, ``address``) when the decision is ``needs_correction``.
    :ivar materials: codes of the materials still needed.
    :ivar schools: the zoned school codes (first: the one that reviews).
    :ivar reason_code: a stable English code; ``reason`` says it in Chinese.
    """

    decision: Decision
    reason_code: str
    reason: str
    category: str | None = None
    category_name: str | None = None
    address_proven_by: str | None = None
    schools: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    corrections: tuple[str, ...] = ()


UNKNOWN: Final = None
Truth = bool | None
"""Three-valued: ``True``, ``False`` or ``None`` (the data cannot decide)."""

_DECIDED: Final = frozenset({Outcome.MATCH, Outcome.NOT_FOUND})
_SUBJECT_LABELS: Final = {"child": "儿童", "guardian": "监护人"}


def normalise_address(address: str) -> str:
    """An address without whitespace (ASCII or full-width), for comparison."""
    return "".join(address.split())


def _as_date(value: Fact) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


class _Facts:
    """Three-valued access to the answers of one application's checks."""

    def __init__(self, answers: Mapping[Check, Answer], rules: SeasonRules) -> None:
        self.answers = answers
        self.rules = rules

    def found(self, check: Check) -> Truth:
        answer = self.answers.get(check)
        if answer is None or answer.outcome not in _DECIDED:
            return UNKNOWN
        return answer.outcome is Outcome.MATCH

    def fact(self, check: Check, name: str) -> Fact:
        answer = self.answers.get(check)
        return answer.facts.get(name) if answer is not None else None

    def local(self, check: Check) -> Truth:
        found = self.found(check)
        if not found:
            return found
        return self.fact(check, "township_code") in self.rules.townships

    def predicate(self, name: str) -> Truth:
        negate = name.startswith("not_")
        value = _PREDICATE_FUNCTIONS[name.removeprefix("not_")](self)
        return (not value) if negate and value is not None else value


def _all(values: Sequence[Truth]) -> Truth:
    if any(v is False for v in values):
        return False
    return UNKNOWN if any(v is None for v in values) else True


def _same_household(f: _Facts) -> Truth:
    both = _all([f.found(CHILD_HUKOU), f.found(GUARDIAN_HUKOU)])
    if not both:
        return both
    child, guardian = f.fact(CHILD_HUKOU, "household"), f.fact(GUARDIAN_HUKOU, "household")
    if child is not None and guardian is not None:
        return child == guardian
    return _same(f.fact(CHILD_HUKOU, "address"), f.fact(GUARDIAN_HUKOU, "address"))


def _same(a: Fact, b: Fact) -> bool:
    return (
        isinstance(a, str) and isinstance(b, str) and normalise_address(a) == normalise_address(b)
    )


def _owns_home(f: _Facts, *, fully: bool = False) -> Truth:
    local = f.local(GUARDIAN_PROPERTY)
    if not local:
        return local
    if f.fact(GUARDIAN_PROPERTY, "use") != "residential":
        return False
    return not fully or f.fact(GUARDIAN_PROPERTY, "share") == "full"


def _hukou_at_home(f: _Facts) -> Truth:
    both = _all([f.found(CHILD_HUKOU), f.found(GUARDIAN_PROPERTY)])
    if not both:
        return both
    return _same(f.fact(CHILD_HUKOU, "address"), f.fact(GUARDIAN_PROPERTY, "address"))


def _permit_valid(f: _Facts) -> Truth:
    local = f.local(GUARDIAN_PERMIT)
    if not local:
        return local
    issued = _as_date(f.fact(GUARDIAN_PERMIT, "issue_date"))
    expires = _as_date(f.fact(GUARDIAN_PERMIT, "expiry_date"))
    day = f.rules.reference_date
    return issued is not None and expires is not None and issued <= day <= expires


def _insured(f: _Facts) -> Truth:
    found = f.found(GUARDIAN_INSURANCE)
    if not found:
        return found
    months = f.fact(GUARDIAN_INSURANCE, "months")
    return isinstance(months, int) and months >= f.rules.policy.insurance_months


_PREDICATE_FUNCTIONS: Final = {
    "child_hukou_local": lambda f: f.local(CHILD_HUKOU),
    "guardian_hukou_local": lambda f: f.local(GUARDIAN_HUKOU),
    "same_household": _same_household,
    "owns_home": _owns_home,
    "owns_home_fully": lambda f: _owns_home(f, fully=True),
    "hukou_at_home": _hukou_at_home,
    "permit_valid": _permit_valid,
    "insured": _insured,
}


def _contradictions(
    answers: Mapping[Check, Answer], application: Application
) -> tuple[list[str], list[str]]:
    """Definite contradictions: a record says the declared name or relationship is wrong."""
    fields: list[str] = []
    reasons: list[str] = []
    for (source, subject), answer in answers.items():
        if answer.outcome is Outcome.MISMATCH and subject not in fields:
            fields.append(subject)
            reasons.append(f"{_SUBJECT_LABELS.get(subject, subject)}信息与{source}登记不一致")
    child = answers.get(CHILD_HUKOU)
    if child is not None and child.outcome is Outcome.MATCH:
        recorded = child.facts.get("relationship")
        if isinstance(recorded, str) and _relationship_differs(recorded, application.relationship):
            fields.append("relationship")
            reasons.append("申报的监护关系与户籍登记不一致")
    return fields, reasons


def _relationship_differs(recorded: str, declared: Relationship) -> bool:
    parents = {Relationship.FATHER.value, Relationship.MOTHER.value}
    if declared is Relationship.OTHER:
        return recorded in parents
    return recorded != declared.value


def _materials(rules: SeasonRules, township: str | None, sources: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        m.code
        for m in rules.materials_for(township)
        if not m.on_form and (m.always or (m.source is not None and m.source in sources))
    )


def _unknown_sources(facts: _Facts, category: CategoryRule) -> list[str]:
    sources: dict[str, None] = {}
    for name in category.when:
        if facts.predicate(name) is None:
            for check in predicate_checks(name):
                if facts.found(check) is None:
                    sources[check[0]] = None
    return list(sources)


def _zone(rules: SeasonRules, township: str | None, address: str) -> ZoneRule | None:
    """The most specific zone rule of ``township`` matching the address, if any."""
    return find_zone(rules.zones, township, address)


def find_zone(zones: Sequence[ZoneRule], township: str | None, address: str) -> ZoneRule | None:
    """The most specific zone rule of ``township`` whose village and estate (if any) both
    appear in the address (whitespace ignored); ``None`` when no rule covers it."""
    if township is None:
        return None
    text = normalise_address(address)
    best: tuple[int, ZoneRule] | None = None
    for zone in zones:
        if zone.township != township:
            continue
        parts = [p for p in (zone.village, zone.estate) if p]
        if not all(normalise_address(p) in text for p in parts):
            continue
        if best is None or len(parts) > best[0]:
            best = (len(parts), zone)
    return best[1] if best else None


def assess(
    rules: SeasonRules, application: Application, answers: Mapping[Check, Answer]
) -> Assessment:
    """Decide one application from its checks' answers (pure; no I/O)."""
    township = application.township_code
    fields, reasons = _contradictions(answers, application)
    if fields:
        return Assessment(
            Decision.NEEDS_CORRECTION,
            "contradiction",
            "；".join(reasons),
            corrections=tuple(fields),
        )
    facts = _Facts(answers, rules)
    for category in rules.categories:
        truth = _all([facts.predicate(name) for name in category.when])
        if truth is False:
            continue
        if truth is None:
            unknown = _unknown_sources(facts, category)
            return Assessment(
                Decision.MANUAL_REVIEW,
                "undecidable",
                f"共享数据无法判断是否符合“{category.name}”（{'、'.join(unknown)}），请提供材料",
                materials=_materials(rules, township, unknown),
            )
        return _categorised(rules, application, facts, category)
    unproven = [
        source
        for source in dict.fromkeys(check[0] for check in rules.checks())
        if not any(check[0] == source and facts.found(check) for check in answers)
    ]
    return Assessment(
        Decision.MANUAL_REVIEW,
        "no_category",
        "共享数据未能确定入学类别，请提供材料由工作人员线下核验",
        materials=_materials(rules, township, unproven),
    )


def _categorised(
    rules: SeasonRules, application: Application, facts: _Facts, category: CategoryRule
) -> Assessment:
    named: dict[str, Any] = {"category": category.code, "category_name": category.name}
    for source in category.address_from:
        check = ADDRESS_SOURCES[source]
        if facts.found(check) and _same(facts.fact(check, "address"), application.address):
            break
    else:
        return Assessment(
            Decision.NEEDS_CORRECTION,
            "address_unproven",
            "申报住址与户籍、不动产或居住证登记地址均不一致，请按登记地址补正",
            corrections=("address",),
            **named,
        )
    township = facts.fact(check, "township_code")
    zone_township = township if isinstance(township, str) else application.township_code
    zone = _zone(rules, zone_township, application.address)
    materials = _materials(rules, zone_township, ())
    if zone is None:
        return Assessment(
            Decision.MANUAL_REVIEW,
            "outside_zones",
            "住址不在本招生季的学区范围内，需人工核验",
            address_proven_by=source,
            materials=materials,
            **named,
        )
    common: dict[str, Any] = {
        "address_proven_by": source,
        "schools": tuple(zone.schools),
        "materials": materials,
        **named,
    }
    if application.age_exception is not None:
        return Assessment(
            Decision.MANUAL_REVIEW, "age_exception", "年龄不在正常入学范围，需人工核验", **common
        )
    return Assessment(Decision.VERIFIED, "verified", "核验合格", **common)


__all__ = [
    "Answer",
    "Application",
    "Assessment",
    "Decision",
    "SeasonRules",
    "assess",
    "find_zone",
    "normalise_address",
]
