"""Intake operations executed in-process: drafts over several visits, counter intake and
manual verification."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col, func, select

from ruxue_core.domain import Application, ApplicationDraft, Job, Material, Message
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    GUARDIAN_ID,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    SCHOOL_REVIEWER,
    child_id_number,
)
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
COUNTER_GUARDIAN_ID = make_national_id("420704", date(1987, 3, 3), 21)
DRAFT = (
    "id version childName childIdNumber guardianPhone address townshipCode consent missing "
    "primarySchoolCode"
)
START = (
    "mutation($input: StartApplicationInput!) { startApplication(input: $input) { __typename "
    f"... on ApplicationDraft {{ {DRAFT} }} ... on Error {{ code field message }} }} }}"
)
UPDATE = (
    "mutation($input: UpdateApplicationInput!) { updateApplication(input: $input) { __typename "
    f"... on ApplicationDraft {{ {DRAFT} }} ... on Error {{ code field message }} }} }}"
)
MY_DRAFTS = "query { myDrafts { __typename ... on DraftList { drafts { id } } } }"
SUBMIT = """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  __typename ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status }
  ... on Error { code field } } }"""
COUNTER_CREATE = """mutation($input: CreateCounterApplicationInput!) {
  createCounterApplication(input: $input) { __typename
  ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status }
  ... on Error { code field message } } }"""
MANUAL = """mutation($input: RecordManualVerificationInput!) {
  recordManualVerification(input: $input) { __typename
  ... on ManualVerificationRecorded { status version outstandingMaterials { code } }
  ... on Error { code field message } } }"""
LIST = """query { applications(first: 50) { __typename
  ... on ApplicationConnection { edges { node { id } } } } }"""
STATS = "query { statistics { __typename ... on Statistics { total } } }"


async def gql(
    runtime: Runtime, principal: Principal | None, query: str, **variables: Any
) -> dict[str, Any]:
    """Execute and return the operation's one result, failing on a raised error."""
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    assert isinstance(value, dict)
    return value


async def count(runtime: Runtime, model: Any) -> int:
    """Rows of ``model``."""
    return await runtime.read(
        lambda uow: uow.session.exec(select(func.count()).select_from(model)).one()
    )


async def test_a_draft_is_filled_over_visits_and_submitted_once(
    runtime: Runtime, season: str
) -> None:
    child = child_id_number(71)
    started = await gql(
        runtime,
        GUARDIAN,
        START,
        input={"seasonCode": season, "fields": {"child": {"name": "张小明"}}},
    )
    assert started["__typename"] == "ApplicationDraft"
    assert started["childName"] == "张小明"
    assert "child.idNumber" in started["missing"]
    draft_id = started["id"]
    # a bad field is refused by name and changes nothing
    bad = await gql(
        runtime,
        GUARDIAN,
        UPDATE,
        input={"draftId": draft_id, "fields": {"child": {"idNumber": "420704201803151239"}}},
    )
    assert (bad["__typename"], bad["field"]) == ("InvalidInputError", "child.idNumber")
    for person, field in (
        ({"name": "李四"}, "guardian.name"),
        ({"idNumber": COUNTER_GUARDIAN_ID}, "guardian.idNumber"),
    ):
        other = await gql(
            runtime, GUARDIAN, UPDATE, input={"draftId": draft_id, "fields": {"guardian": person}}
        )
        assert (other["__typename"], other["field"]) == ("InvalidInputError", field)
    fields = {
        "child": {"idNumber": child},
        "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
        "guardianPhone": "13812345678",
        "relationship": "FATHER",
        "address": "燕矶镇新街10号",
        "townshipCode": "420704101",
        "consent": True,
    }
    updated = await gql(
        runtime,
        GUARDIAN,
        UPDATE,
        input={"draftId": draft_id, "fields": fields, "expectedVersion": 1},
    )
    assert updated["__typename"] == "ApplicationDraft", updated
    assert updated["missing"] == []
    assert updated["childIdNumber"] == child[:4] + "*" * 10 + child[-4:]
    assert updated["guardianPhone"] == "138****5678"
    stale = await gql(
        runtime, GUARDIAN, UPDATE, input={"draftId": draft_id, "fields": {}, "expectedVersion": 1}
    )
    assert stale["__typename"] == "ConflictError"
    # only the owner sees it, and it is in no list, statistic or job
    theirs = await gql(runtime, OTHER_GUARDIAN, UPDATE, input={"draftId": draft_id, "fields": {}})
    assert theirs["__typename"] == "NotFoundError"
    assert await count(runtime, Application) == 0
    assert await count(runtime, Job) == 0
    assert (await gql(runtime, BUREAU, STATS))["total"] == 0
    assert (await gql(runtime, GUARDIAN, MY_DRAFTS))["drafts"] == [{"id": draft_id}]
    # stored encrypted: no plain ID number in the row
    row = await runtime.read(lambda uow: uow.session.get(ApplicationDraft, int(draft_id)))
    assert row is not None and child.encode() not in row.data_ct
    key = "draft-key-0001"
    first = await gql(runtime, GUARDIAN, SUBMIT, input={"draftId": draft_id, "idempotencyKey": key})
    assert first["__typename"] == "SubmitApplicationSuccess", first
    again = await gql(runtime, GUARDIAN, SUBMIT, input={"draftId": draft_id, "idempotencyKey": key})
    assert again == first
    twice = await gql(runtime, GUARDIAN, SUBMIT, input={"draftId": draft_id})
    assert twice["__typename"] == "DuplicateError"
    assert await count(runtime, Application) == 1
    assert (await gql(runtime, GUARDIAN, MY_DRAFTS))["drafts"] == []
    closed = await gql(runtime, GUARDIAN, UPDATE, input={"draftId": draft_id, "fields": {}})
    assert (closed["__typename"], closed["field"]) == ("InvalidInputError", "draftId")


async def test_a_drafts_primary_school_goes_with_it_to_submission(
    runtime: Runtime, season: str
) -> None:
    fields = {
        "child": {"name": "张小明", "idNumber": child_id_number(72)},
        "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
        "guardianPhone": "13812345678",
        "relationship": "FATHER",
        "address": "燕矶镇新街10号",
        "townshipCode": "420704101",
        "primarySchoolCode": "LK-YJ-01",
    }
    started = await gql(runtime, GUARDIAN, START, input={"seasonCode": season, "fields": fields})
    assert started["primarySchoolCode"] == "LK-YJ-01"
    draft = started["id"]
    # the sample season is a primary one: the 小升初 field is refused at submission, by name
    refused = await gql(runtime, GUARDIAN, SUBMIT, input={"draftId": draft})
    assert (refused["__typename"], refused["field"]) == ("InvalidInputError", "primarySchoolCode")
    assert await count(runtime, Application) == 0
    cleared = await gql(
        runtime, GUARDIAN, UPDATE, input={"draftId": draft, "fields": {"primarySchoolCode": ""}}
    )
    assert cleared["primarySchoolCode"] is None
    submitted = await gql(runtime, GUARDIAN, SUBMIT, input={"draftId": draft})
    assert submitted["__typename"] == "SubmitApplicationSuccess", submitted


async def test_an_incomplete_draft_names_the_missing_field(runtime: Runtime, season: str) -> None:
    started = await gql(runtime, GUARDIAN, START, input={"seasonCode": season})
    result = await gql(runtime, GUARDIAN, SUBMIT, input={"draftId": started["id"]})
    assert (result["__typename"], result["field"]) == ("InvalidInputError", "child.name")
    staff = await gql(runtime, COUNTER, START, input={"seasonCode": season})
    assert staff["__typename"] == "ForbiddenError"
    anonymous = await gql(runtime, None, SUBMIT, input={"draftId": started["id"]})
    assert anonymous["__typename"] == "ForbiddenError"


def counter_input(season: str, **changes: Any) -> dict[str, Any]:
    """A counter application for 燕矶镇."""
    return {
        "seasonCode": season,
        "child": {"name": "李小花", "idNumber": child_id_number(72)},
        "guardian": {"name": "李四", "idNumber": COUNTER_GUARDIAN_ID},
        "guardianPhone": "13912345678",
        "relationship": "MOTHER",
        "address": "燕矶镇新街11号",
        "townshipCode": "420704101",
        "consent": True,
        "materialsSeen": ["hukou_book"],
    } | changes


async def test_counter_staff_enter_an_application_with_its_papers(
    runtime: Runtime, season: str
) -> None:
    created = await gql(runtime, COUNTER, COUNTER_CREATE, input=counter_input(season))
    assert created["__typename"] == "SubmitApplicationSuccess", created
    application_id = int(created["applicationId"])

    def read(uow: UnitOfWork) -> tuple[Any, ...]:
        application = uow.session.get(Application, application_id)
        assert application is not None
        kinds = uow.session.exec(
            select(Material.kind).where(col(Material.application_id) == application_id)
        ).all()
        templates = uow.session.exec(
            select(Message.template).where(col(Message.application_id) == application_id)
        ).all()
        return application.channel.value, list(kinds), list(templates)

    channel, kinds, templates = await runtime.read(read)
    assert (channel, kinds) == ("counter", ["hukou_book"])
    assert templates == ["RX_SUBMITTED"]
    other = await gql(runtime, OTHER_COUNTER, COUNTER_CREATE, input=counter_input(season))
    assert (other["__typename"], other["field"]) == ("ForbiddenError", "townshipCode")
    guardian = await gql(runtime, GUARDIAN, COUNTER_CREATE, input=counter_input(season))
    assert guardian["__typename"] == "ForbiddenError"
    unknown = counter_input(season, materialsSeen=["passport"])
    unknown["child"] = {"name": "李小草", "idNumber": child_id_number(73)}
    refused = await gql(runtime, COUNTER, COUNTER_CREATE, input=unknown)
    assert (refused["__typename"], refused["field"]) == ("InvalidInputError", "materialsSeen")
    assert await count(runtime, Application) == 1


async def _to_manual_review(runtime: Runtime, season: str) -> int:
    created = await gql(runtime, COUNTER, COUNTER_CREATE, input=counter_input(season))
    application_id = int(created["applicationId"])

    def advance(uow: UnitOfWork) -> None:
        for event in (Event.START_VERIFICATION, Event.REFER_TO_MANUAL):
            case = load_case(uow, application_id)
            assert case is not None
            apply_event(uow, case, event, Principal.system())
        uow.commit()

    await runtime.write(advance)
    return application_id


async def test_manual_verification_moves_the_application_on(runtime: Runtime, season: str) -> None:
    application_id = await _to_manual_review(runtime, season)
    base = {"applicationId": str(application_id), "outcome": "CONFIRMED"}
    empty = await gql(runtime, BUREAU, MANUAL, input=base)
    assert (empty["__typename"], empty["field"]) == ("InvalidInputError", "confirmations")
    confirmations = [
        {"fact": "HUKOU", "paper": "hukou_book"},
        {"fact": "PROPERTY", "paper": "property_certificate"},
    ]
    school = await gql(runtime, SCHOOL_REVIEWER, MANUAL, input=base | {"confirmations": []})
    assert school["__typename"] in ("NotFoundError", "InvalidInputError")
    other = await gql(runtime, OTHER_COUNTER, MANUAL, input=base | {"confirmations": confirmations})
    assert other["__typename"] == "NotFoundError"
    done = await gql(runtime, COUNTER, MANUAL, input=base | {"confirmations": confirmations})
    assert done["__typename"] == "ManualVerificationRecorded", done
    assert done["status"] == "SCHOOL_REVIEW"  # the township's one school reviews next
    again = await gql(runtime, COUNTER, MANUAL, input=base | {"confirmations": confirmations})
    assert again["__typename"] == "InvalidTransitionError"
    returned_id = await _second_manual(runtime, season)
    returned = await gql(
        runtime,
        BUREAU,
        MANUAL,
        input={"applicationId": str(returned_id), "outcome": "RETURN", "comment": "地址不符"},
    )
    assert returned["status"] == "NEEDS_CORRECTION"


async def _second_manual(runtime: Runtime, season: str) -> int:
    created = await gql(
        runtime,
        COUNTER,
        COUNTER_CREATE,
        input=counter_input(season, child={"name": "李小草", "idNumber": child_id_number(74)}),
    )
    application_id = int(created["applicationId"])

    def advance(uow: UnitOfWork) -> None:
        for event in (Event.START_VERIFICATION, Event.REFER_TO_MANUAL):
            case = load_case(uow, application_id)
            assert case is not None
            apply_event(uow, case, event, Principal.system())
        uow.commit()

    await runtime.write(advance)
    return application_id


async def test_drafts_stay_out_of_work_lists(runtime: Runtime, season: str) -> None:
    await gql(runtime, GUARDIAN, START, input={"seasonCode": season})
    page = await gql(runtime, BUREAU, LIST)
    assert page["edges"] == []
