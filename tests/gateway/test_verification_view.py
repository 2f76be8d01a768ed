"""What reviewers see of a verification (masked facts, category, zoned school, outstanding
materials) and counter staff recording the originals they saw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ruxue_core.domain.enums import Outcome
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_SCHOOL_REVIEWER,
    SCHOOL_REVIEWER,
    submit_command,
)
from ruxue_core.testing.fakes import FakeVerifier, FakeVerifierPlugin
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
VIEW = """query($id: ID!) { application(id: $id) { __typename
  ... on Application { status schoolCode consentRef
    evidence { source subject outcome facts { name value } sourceRecordId consentRef }
    assessment { decision reasonCode category categoryName addressProvenBy schools
                 materials { code name } corrections }
    outstandingMaterials { code name } } } }"""
PAPER = """mutation($input: RecordPaperSeenInput!) { recordPaperSeen(input: $input) {
  __typename ... on PaperRecordedPayload { outstandingMaterials { code } consentRef }
  ... on Error { code field } } }"""
ADDRESS = "燕矶镇杨林村3组12号"


@pytest.fixture
def property_answer() -> FakeVerifier:
    return FakeVerifier(Outcome.MATCH)


@pytest.fixture
async def rt(settings: Settings, property_answer: FakeVerifier) -> AsyncIterator[Runtime]:
    people = FakeVerifierPlugin(sources=("hukou", "residence_permit", "social_insurance"))
    homes = FakeVerifierPlugin(property_answer, name="fake-homes", sources=("property",))
    runtime = Runtime.create(
        settings.model_copy(update={"verifiers": ["fake", "fake-homes"]}),
        extra_plugins=[people, homes],
    )
    try:
        yield runtime
    finally:
        await runtime.close()


async def gql(rt: Runtime, principal: Principal, query: str, **variables: Any) -> Any:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(rt, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return next(iter(result.data.values()))


async def verified(rt: Runtime, season: str) -> str:
    command = submit_command(season, address=ADDRESS)
    submitted = await submit_application(rt, command, GUARDIAN)
    await Worker(rt, HANDLERS).drain()
    return str(submitted.application_id)


async def test_the_school_sees_masked_facts_category_and_its_zoned_school(
    rt: Runtime, season: str
) -> None:
    app_id = await verified(rt, season)
    view = await gql(rt, SCHOOL_REVIEWER, VIEW, id=app_id)
    assert view["status"] == "SCHOOL_REVIEW"
    assert view["schoolCode"] == "LK-YJ-01"
    assessment = view["assessment"]
    assert (assessment["decision"], assessment["category"], assessment["categoryName"]) == (
        "verified",
        "A",
        "房户一致",
    )
    assert (assessment["addressProvenBy"], assessment["schools"]) == ("property", ["LK-YJ-01"])
    assert view["outstandingMaterials"] == [] and assessment["corrections"] == []
    child_hukou = next(e for e in view["evidence"] if e["subject"] == "child")
    facts = {f["name"]: f["value"] for f in child_hukou["facts"]}
    assert ADDRESS not in facts["address"] and facts["address"].startswith("燕矶镇")
    assert facts["move_in_date"] == "2020-05" and facts["household"].endswith("*")
    assert child_hukou["consentRef"] == view["consentRef"] is not None
    other = await gql(rt, OTHER_SCHOOL_REVIEWER, VIEW, id=app_id)
    assert other["__typename"] == "NotFoundError"


async def test_undecided_property_asks_for_its_certificate_which_the_counter_sees(
    rt: Runtime, season: str, property_answer: FakeVerifier
) -> None:
    property_answer.behaviour = Outcome.NEEDS_MANUAL_REVIEW
    app_id = await verified(rt, season)
    view = await gql(rt, BUREAU, VIEW, id=app_id)
    assert view["status"] == "MANUAL_REVIEW"
    assert view["assessment"]["reasonCode"] == "undecidable"
    needed = [{"code": "property_certificate", "name": "不动产权证书或不动产登记证明"}]
    assert view["outstandingMaterials"] == needed
    unknown = await gql(rt, COUNTER, PAPER, input={"applicationId": app_id, "materials": ["x"]})
    assert (unknown["code"], unknown["field"]) == ("INVALID_INPUT", "materials")
    seen = {"applicationId": app_id, "materials": ["property_certificate"]}
    recorded = await gql(rt, COUNTER, PAPER, input=seen)
    assert recorded["outstandingMaterials"] == []
    assert recorded["consentRef"] == view["consentRef"]
    assert (await gql(rt, BUREAU, VIEW, id=app_id))["outstandingMaterials"] == []
    by_school = await gql(rt, SCHOOL_REVIEWER, PAPER, input=seen)
    assert by_school["code"] == "FORBIDDEN"


async def test_without_consent_nothing_is_checked_until_the_counter_records_it(
    rt: Runtime, season: str
) -> None:
    command = submit_command(season, address=ADDRESS, consent=False)
    submitted = await submit_application(rt, command, GUARDIAN)
    await Worker(rt, HANDLERS).drain()
    app_id = str(submitted.application_id)
    view = await gql(rt, BUREAU, VIEW, id=app_id)
    assert (view["status"], view["evidence"], view["consentRef"]) == ("MANUAL_REVIEW", [], None)
    assert view["assessment"]["reasonCode"] == "no_consent"
    recorded = await gql(rt, COUNTER, PAPER, input={"applicationId": app_id, "consent": True})
    assert recorded["consentRef"] is not None
