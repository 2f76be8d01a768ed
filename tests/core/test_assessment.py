"""The season's rules over facts: category (first match wins), address proof, zone, materials,
and when a family is asked to correct something (only on a definite contradiction)."""

from __future__ import annotations

from datetime import date

import pytest

from ruxue_core.domain.enums import Outcome, Relationship
from ruxue_core.policy import SeasonFile
from ruxue_core.rules.assessment import (
    Answer,
    Application,
    Decision,
    SeasonRules,
    assess,
)
from ruxue_core.rules.facts import (
    CHILD_HUKOU,
    GUARDIAN_HUKOU,
    GUARDIAN_INSURANCE,
    GUARDIAN_PERMIT,
    GUARDIAN_PROPERTY,
    Check,
)

HOME = "湖北省鄂州市花湖镇机场社区空港花园3栋1单元2室"
ELSEWHERE = "湖北省武汉市江岸区建设大道1号"
HH = "420704104"


@pytest.fixture(scope="module")
def rules(season_file: SeasonFile) -> SeasonRules:
    return SeasonRules.from_policy(season_file.policy_json(), date(2026, 7, 1))


def app(address: str = HOME, relationship: Relationship = Relationship.FATHER) -> Application:
    return Application(address, relationship, HH)


def hukou(address: str = HOME, township: str = HH, **more: object) -> Answer:
    facts = {"address": address, "township_code": township, "household": "H1"} | more
    return Answer(Outcome.MATCH, facts)  # type: ignore[arg-type]


def home(address: str = HOME, use: str = "residential") -> Answer:
    facts = {"address": address, "township_code": HH, "use": use, "share": "full"}
    return Answer(Outcome.MATCH, facts)


NOT_FOUND = Answer(Outcome.NOT_FOUND)
DOWN = Answer(Outcome.SOURCE_UNAVAILABLE)
PERMIT = Answer(
    Outcome.MATCH,
    {"address": HOME, "township_code": HH, "issue_date": "2024-01-01", "expiry_date": "2027-01-01"},
)


def answers(**given: Answer) -> dict[Check, Answer]:
    checks = {
        "child": CHILD_HUKOU,
        "guardian": GUARDIAN_HUKOU,
        "home": GUARDIAN_PROPERTY,
        "permit": GUARDIAN_PERMIT,
        "insurance": GUARDIAN_INSURANCE,
    }
    every = dict.fromkeys(checks, NOT_FOUND) | given
    return {checks[name]: answer for name, answer in every.items()}


def test_the_season_needs_five_checks_child_hukou_first(rules: SeasonRules) -> None:
    assert rules.checks()[0] == CHILD_HUKOU
    assert set(rules.checks()) == {
        CHILD_HUKOU,
        GUARDIAN_HUKOU,
        GUARDIAN_PROPERTY,
        GUARDIAN_PERMIT,
        GUARDIAN_INSURANCE,
    }


def test_hukou_and_home_at_one_address_is_category_a_zoned_by_estate(rules: SeasonRules) -> None:
    child = hukou(relationship="father")
    verdict = assess(rules, app(), answers(child=child, guardian=hukou(), home=home()))
    assert (verdict.decision, verdict.category, verdict.address_proven_by) == (
        Decision.VERIFIED,
        "A",
        "property",
    )
    assert verdict.schools == ("LK-HH-02", "LK-HH-01")  # 空港花园: 多校划片, HH-02 reviews
    assert verdict.materials == () and verdict.corrections == ()


def test_owner_without_local_hukou_is_b_not_a_correction(rules: SeasonRules) -> None:
    away = hukou(ELSEWHERE, "420102001")
    verdict = assess(rules, app(), answers(child=away, guardian=away, home=home()))
    assert (verdict.decision, verdict.category) == (Decision.VERIFIED, "B")


def test_hukou_without_home_is_c_and_a_non_residential_home_does_not_count(
    rules: SeasonRules,
) -> None:
    shop = home(use="commercial")
    verdict = assess(rules, app(), answers(child=hukou(), guardian=hukou(), home=shop))
    assert (verdict.decision, verdict.category, verdict.address_proven_by) == (
        Decision.VERIFIED,
        "C",
        "hukou",
    )


def test_migrant_with_permit_and_enough_insurance_is_d(rules: SeasonRules) -> None:
    away = hukou(ELSEWHERE, "420102001")
    insured = Answer(Outcome.MATCH, {"scheme": "resident", "months": 6})
    given = answers(child=away, guardian=away, permit=PERMIT, insurance=insured)
    assert assess(rules, app(), given).category == "D"
    short = Answer(Outcome.MATCH, {"scheme": "employee", "months": 5})
    verdict = assess(rules, app(), given | {GUARDIAN_INSURANCE: short})
    assert (verdict.decision, verdict.reason_code) == (Decision.MANUAL_REVIEW, "no_category")


def test_expired_permit_does_not_count(rules: SeasonRules) -> None:
    away = hukou(ELSEWHERE, "420102001")
    old = Answer(Outcome.MATCH, dict(PERMIT.facts) | {"expiry_date": "2026-06-30"})
    insured = Answer(Outcome.MATCH, {"months": 12})
    verdict = assess(
        rules, app(), answers(child=away, guardian=away, permit=old, insurance=insured)
    )
    assert verdict.reason_code == "no_category"


def test_a_contradicted_relationship_asks_for_a_correction(rules: SeasonRules) -> None:
    child = hukou(relationship="father")
    given = answers(child=child, guardian=hukou(), home=home())
    verdict = assess(rules, app(relationship=Relationship.MOTHER), given)
    assert (verdict.decision, verdict.corrections) == (Decision.NEEDS_CORRECTION, ("relationship",))


def test_a_guardian_outside_the_household_is_not_a_contradiction(rules: SeasonRules) -> None:
    child = hukou(relationship=None)
    verdict = assess(rules, app(), answers(child=child, guardian=hukou(), home=home()))
    assert verdict.decision is Decision.VERIFIED


def test_a_name_mismatch_asks_for_a_correction(rules: SeasonRules) -> None:
    verdict = assess(rules, app(), answers(child=Answer(Outcome.MISMATCH)))
    assert (verdict.decision, verdict.corrections) == (Decision.NEEDS_CORRECTION, ("child",))


def test_nobody_known_goes_to_manual_review_with_every_material(rules: SeasonRules) -> None:
    verdict = assess(rules, app(), answers())
    assert verdict.decision is Decision.MANUAL_REVIEW
    assert verdict.materials == (
        "hukou_book",
        "residence_permit",
        "property_certificate",
        "insurance_record",
    )


def test_a_source_down_leads_to_its_material_never_to_a_correction(rules: SeasonRules) -> None:
    verdict = assess(rules, app(), answers(child=hukou(), guardian=hukou(), home=DOWN))
    assert (verdict.decision, verdict.reason_code) == (Decision.MANUAL_REVIEW, "undecidable")
    assert verdict.materials == ("property_certificate",)
    sanjiang = Application(HOME.replace("花湖镇", "三江港新区"), Relationship.FATHER, "420704108")
    verdict = assess(rules, sanjiang, answers(child=hukou(), guardian=hukou(), home=DOWN))
    assert verdict.materials == ("property_certificate", "resettlement_agreement")


def test_an_unproven_declared_address_asks_for_a_correction(rules: SeasonRules) -> None:
    given = answers(child=hukou(), guardian=hukou())
    verdict = assess(rules, app("湖北省鄂州市花湖镇花湖社区9号"), given)
    assert (verdict.decision, verdict.category, verdict.corrections) == (
        Decision.NEEDS_CORRECTION,
        "C",
        ("address",),
    )


def test_township_default_zone_and_age_exception(rules: SeasonRules) -> None:
    address = "湖北省鄂州市花湖镇新街9号"
    given = answers(child=hukou(address), guardian=hukou(address))
    assert assess(rules, app(address), given).schools == ("LK-HH-01",)
    late = Application(address, Relationship.FATHER, HH, age_exception="deferral")
    verdict = assess(rules, late, given)
    assert (verdict.decision, verdict.reason_code) == (Decision.MANUAL_REVIEW, "age_exception")
    assert verdict.schools == ("LK-HH-01",)


def test_a_policy_object_is_parsed_once_and_a_new_one_afresh(season_file: SeasonFile) -> None:
    policy = season_file.policy_json()
    first = SeasonRules.of(policy, date(2026, 7, 1))
    assert SeasonRules.of(policy, date(2026, 7, 1)) is first
    assert SeasonRules.of(policy, date(2026, 8, 1)).reference_date == date(2026, 8, 1)
    changed = season_file.policy_json()
    changed["zones"] = []
    assert SeasonRules.of(changed, date(2026, 7, 1)).zones == ()
    assert SeasonRules.of(policy, date(2026, 7, 1)).zones == first.zones != ()
