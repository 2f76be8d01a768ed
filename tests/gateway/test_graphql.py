"""The GraphQL API executed in-process: typed results for every outcome, masking, roles and
scopes, guardians' identity, staff sessions."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import func, select

from ruxue_core.domain import Application, Message
from ruxue_core.domain.enums import Role
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services.staff import AddStaff, add_staff
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    GUARDIAN_ID,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    OTHER_GUARDIAN_ID,
    OTHER_SCHOOL_REVIEWER,
    SCHOOL_REVIEWER,
    UNVERIFIED_GUARDIAN,
    child_id_number,
)
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()

SUBMIT = """
mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    __typename
    ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
    ... on Error { code message field }
  }
}"""
STATUS = """
query($r: String!, $q: String!) {
  applicationStatus(receiptNo: $r, queryCode: $q) {
    __typename
    ... on StatusLookup { receiptNo status statusLabel childName }
    ... on Error { code message field }
  }
}"""
APPLICATION = """
query($id: ID!) {
  application(id: $id) {
    __typename
    ... on Application { status version childIdNumber guardianPhone childName evidence { outcome } }
    ... on Error { code field }
  }
}"""
REVIEW = """
mutation($input: ReviewApplicationInput!) {
  reviewApplication(input: $input) {
    __typename
    ... on ApplicationChanged { status version }
    ... on Error { code message }
  }
}"""


async def gql(
    runtime: Runtime, principal: Principal | None, query: str, **variables: Any
) -> dict[str, Any]:
    """Execute and return ``data``, failing on any raised (non-typed) error."""
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def submit_input(season: str, n: int = 1, child_id: str | None = None) -> dict[str, Any]:
    return {
        "seasonCode": season,
        "child": {"name": "张小明", "idNumber": child_id or child_id_number(n)},
        "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
        "guardianPhone": "13812345678",
        "relationship": "FATHER",
        "address": "燕矶镇新街10号",
        "townshipCode": "420704101",
        "consent": True,
    }


async def submitted(runtime: Runtime, season: str, n: int = 1) -> dict[str, Any]:
    data = await gql(runtime, GUARDIAN, SUBMIT, input=submit_input(season, n))
    result: dict[str, Any] = data["submitApplication"]
    assert result["__typename"] == "SubmitApplicationSuccess"
    return result


async def count_applications(runtime: Runtime) -> int:
    return await runtime.read(
        lambda uow: uow.session.exec(select(func.count()).select_from(Application)).one()
    )


async def test_guardian_submits_and_gets_receipt_and_query_code(
    runtime: Runtime, season: str
) -> None:
    result = await submitted(runtime, season)
    assert result["status"] == "SUBMITTED"
    assert len(result["receiptNo"]) == 23
    assert result["queryCode"].isdigit()
    assert len(result["queryCode"]) == 6


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"child": {"name": "张小明", "idNumber": "420704201803151239"}}, "child.idNumber"),
        ({"guardianPhone": "12345"}, "guardianPhone"),
        ({"seasonCode": "1999-nothing"}, "seasonCode"),
        ({"address": "无"}, "address"),
        ({"townshipCode": "420704999"}, "townshipCode"),
        # Online, a guardian applies only as the person their login verified.
        ({"guardian": {"name": "张三", "idNumber": OTHER_GUARDIAN_ID}}, "guardian.idNumber"),
        ({"guardian": {"name": "李四", "idNumber": GUARDIAN_ID}}, "guardian.name"),
    ],
)
async def test_bad_input_is_a_typed_error_and_changes_nothing(
    runtime: Runtime, season: str, change: dict[str, Any], field: str
) -> None:
    data = await gql(runtime, GUARDIAN, SUBMIT, input=submit_input(season) | change)
    result = data["submitApplication"]
    assert result["__typename"] == "InvalidInputError"
    assert result["code"] == "INVALID_INPUT"
    assert result["field"] == field
    assert result["message"]
    assert await count_applications(runtime) == 0


@pytest.mark.parametrize(
    "principal",
    [None, UNVERIFIED_GUARDIAN, BUREAU, SCHOOL_REVIEWER],
    ids=["anonymous", "unverified-guardian", "bureau", "school-reviewer"],
)
async def test_only_verified_guardians_and_counter_staff_submit(
    runtime: Runtime, season: str, principal: Principal | None
) -> None:
    data = await gql(runtime, principal, SUBMIT, input=submit_input(season))
    assert data["submitApplication"]["__typename"] == "ForbiddenError"
    assert data["submitApplication"]["code"] == "FORBIDDEN"
    assert await count_applications(runtime) == 0


async def test_counter_staff_submit_for_a_family(runtime: Runtime, season: str) -> None:
    data = await gql(runtime, COUNTER, SUBMIT, input=submit_input(season))
    assert data["submitApplication"]["status"] == "SUBMITTED"
    view = await gql(runtime, GUARDIAN, APPLICATION, id=data["submitApplication"]["applicationId"])
    assert view["application"]["__typename"] == "Application"  # the family sees it too


async def test_too_young_child_is_ineligible(runtime: Runtime, season: str) -> None:
    young = submit_input(season, child_id=make_national_id("420704", date(2021, 9, 1), 1))
    data = await gql(runtime, GUARDIAN, SUBMIT, input=young)
    assert data["submitApplication"]["code"] == "INELIGIBLE"


async def test_public_lookup(runtime: Runtime, season: str) -> None:
    result = await submitted(runtime, season)
    ok = await gql(runtime, None, STATUS, r=result["receiptNo"], q=result["queryCode"])
    lookup = ok["applicationStatus"]
    assert lookup["__typename"] == "StatusLookup"
    assert lookup["statusLabel"] == "已提交"
    assert lookup["childName"] == "张**"
    wrong_code = f"{(int(result['queryCode']) + 1) % 10**6:06d}"
    wrong = await gql(runtime, None, STATUS, r=result["receiptNo"], q=wrong_code)
    assert wrong["applicationStatus"]["__typename"] == "NotFoundError"
    bad = await gql(runtime, None, STATUS, r="not-a-receipt", q="123456")
    assert bad["applicationStatus"]["field"] == "receiptNo"


async def test_application_view_is_masked_and_scoped(runtime: Runtime, season: str) -> None:
    result = await submitted(runtime, season, n=7)
    mine = await gql(runtime, GUARDIAN, APPLICATION, id=result["applicationId"])
    view = mine["application"]
    assert view["__typename"] == "Application"
    assert view["childIdNumber"] == child_id_number(7)[:4] + "*" * 10 + child_id_number(7)[-4:]
    assert view["guardianPhone"] == "138****5678"
    # Someone else's application answers exactly like one that does not exist.
    other = await gql(runtime, OTHER_GUARDIAN, APPLICATION, id=result["applicationId"])
    missing = await gql(runtime, GUARDIAN, APPLICATION, id="2147483647")
    assert other["application"] == missing["application"]
    assert other["application"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "field": "id",
    }
    for out_of_scope in (UNVERIFIED_GUARDIAN, OTHER_COUNTER, OTHER_SCHOOL_REVIEWER):
        hidden = await gql(runtime, out_of_scope, APPLICATION, id=result["applicationId"])
        assert hidden["application"]["__typename"] == "NotFoundError", out_of_scope
    for in_scope in (COUNTER, SCHOOL_REVIEWER, BUREAU):
        seen = await gql(runtime, in_scope, APPLICATION, id=result["applicationId"])
        assert seen["application"]["__typename"] == "Application", in_scope
    anonymous = await gql(runtime, None, APPLICATION, id=result["applicationId"])
    assert anonymous["application"]["__typename"] == "ForbiddenError"
    for malformed in ("x1", "2147483648", "9" * 18, "-1", "１"):
        bad_id = (await gql(runtime, BUREAU, APPLICATION, id=malformed))["application"]
        assert bad_id == {"__typename": "InvalidInputError", "code": "INVALID_INPUT", "field": "id"}


async def review(
    runtime: Runtime, principal: Principal, app_id: str, decision: str, version: int | None
) -> dict[str, Any]:
    decision_input = {"applicationId": app_id, "decision": decision, "expectedVersion": version}
    data = await gql(runtime, principal, REVIEW, input=decision_input)
    result: dict[str, Any] = data["reviewApplication"]
    return result


async def test_review_path_with_typed_refusals(runtime: Runtime, season: str) -> None:
    result = await submitted(runtime, season)
    app_id = result["applicationId"]
    early = await review(runtime, COUNTER, app_id, "APPROVE", None)
    assert early["__typename"] == "InvalidTransitionError"

    await Worker(runtime, HANDLERS).drain()  # no verifier configured: manual review
    view = (await gql(runtime, BUREAU, APPLICATION, id=app_id))["application"]
    assert view["status"] == "MANUAL_REVIEW"
    assert view["evidence"] == [{"outcome": "NEEDS_MANUAL_REVIEW"}] * 5  # the season's checks

    stale = await review(runtime, COUNTER, app_id, "APPROVE", view["version"] - 1)
    assert stale["__typename"] == "ConflictError"
    by_guardian = await review(runtime, GUARDIAN, app_id, "APPROVE", view["version"])
    assert by_guardian["__typename"] == "ForbiddenError"
    other_township = await review(runtime, OTHER_COUNTER, app_id, "APPROVE", view["version"])
    assert other_township["__typename"] == "NotFoundError"
    by_school = await review(runtime, SCHOOL_REVIEWER, app_id, "APPROVE", view["version"])
    assert by_school["__typename"] == "ForbiddenError"  # manual review is not the school's

    step = await review(runtime, COUNTER, app_id, "APPROVE", view["version"])
    assert step["status"] == "SCHOOL_REVIEW"
    other_school = await review(runtime, OTHER_SCHOOL_REVIEWER, app_id, "APPROVE", step["version"])
    assert other_school["__typename"] == "NotFoundError"
    by_counter = await review(runtime, COUNTER, app_id, "APPROVE", step["version"])
    assert by_counter["__typename"] == "ForbiddenError"
    step = await review(runtime, SCHOOL_REVIEWER, app_id, "APPROVE", step["version"])
    assert step["status"] == "BUREAU_REVIEW"
    wrong_actor = await review(runtime, SCHOOL_REVIEWER, app_id, "APPROVE", step["version"])
    assert wrong_actor["__typename"] == "ForbiddenError"
    step = await review(runtime, BUREAU, app_id, "APPROVE", step["version"])
    assert step["status"] == "APPROVED"

    templates = await runtime.read(lambda uow: uow.session.exec(select(Message.template)).all())
    assert sorted(templates) == ["RX_APPROVED", "RX_MANUAL", "RX_SUBMITTED"]


async def test_operations_are_for_bureau_staff(runtime: Runtime) -> None:
    query = "{ deadJobs { __typename ... on JobList { jobs { id } } ... on Error { code } } }"
    assert (await gql(runtime, GUARDIAN, query))["deadJobs"]["code"] == "FORBIDDEN"
    assert (await gql(runtime, BUREAU, query))["deadJobs"] == {"__typename": "JobList", "jobs": []}
    retry = 'mutation { retryJob(input: {jobId: "1"}) { __typename ... on Error { code } } }'
    assert (await gql(runtime, BUREAU, retry))["retryJob"]["code"] == "NOT_FOUND"
    assert (await gql(runtime, COUNTER, retry))["retryJob"]["code"] == "FORBIDDEN"
    viewer = "{ viewer { role roleLabel } }"
    assert (await gql(runtime, None, viewer))["viewer"] is None
    assert (await gql(runtime, BUREAU, viewer))["viewer"]["roleLabel"] == "区教育部门工作人员"


async def test_alias_flood_is_refused_before_resolving(runtime: Runtime) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(40)) + " }"
    result = await SCHEMA.execute(query, context_value=Context(runtime, None))
    assert result.errors
    assert "aliases" in result.errors[0].message.lower()


CORRECT = """
mutation($input: CorrectApplicationInput!) {
  correctApplication(input: $input) {
    __typename
    ... on ApplicationChanged { status version }
    ... on Error { code field }
  }
}"""


async def test_correction_resubmits_for_verification(runtime: Runtime, season: str) -> None:
    result = await submitted(runtime, season)
    app_id = result["applicationId"]
    too_early = {"applicationId": app_id, "address": "燕矶镇新街12号"}
    early = (await gql(runtime, GUARDIAN, CORRECT, input=too_early))["correctApplication"]
    assert early["__typename"] == "InvalidTransitionError"

    await Worker(runtime, HANDLERS).drain()
    view = (await gql(runtime, BUREAU, APPLICATION, id=app_id))["application"]
    returned = await review(runtime, COUNTER, app_id, "RETURN", view["version"])
    assert returned["status"] == "NEEDS_CORRECTION"

    bad = {"applicationId": app_id, "address": "x", "expectedVersion": returned["version"]}
    refused = (await gql(runtime, GUARDIAN, CORRECT, input=bad))["correctApplication"]
    assert refused == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "field": "address",
    }
    other = (await gql(runtime, OTHER_GUARDIAN, CORRECT, input=too_early))["correctApplication"]
    assert other == {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "applicationId"}

    fixed = {
        "applicationId": app_id,
        "address": "燕矶镇新街12号",
        "expectedVersion": returned["version"],
    }
    changed = (await gql(runtime, GUARDIAN, CORRECT, input=fixed))["correctApplication"]
    assert changed["status"] == "SUBMITTED"
    await Worker(runtime, HANDLERS).drain()
    view = (await gql(runtime, BUREAU, APPLICATION, id=app_id))["application"]
    assert view["status"] == "MANUAL_REVIEW"
    assert len(view["evidence"]) == 2 * 5  # a second verification round of the five checks


WITHDRAW = """
mutation($input: WithdrawApplicationInput!) {
  withdrawApplication(input: $input) {
    __typename
    ... on ApplicationChanged { status version }
    ... on Error { code field }
  }
}"""


async def test_withdrawal_is_guarded_by_version_and_status(runtime: Runtime, season: str) -> None:
    result = await submitted(runtime, season)
    app_id = result["applicationId"]
    stale = {"applicationId": app_id, "expectedVersion": result["version"] + 1}
    conflict = (await gql(runtime, GUARDIAN, WITHDRAW, input=stale))["withdrawApplication"]
    assert conflict["__typename"] == "ConflictError"
    by_bureau = {"applicationId": app_id}
    refused = (await gql(runtime, BUREAU, WITHDRAW, input=by_bureau))["withdrawApplication"]
    assert refused["code"] == "FORBIDDEN"
    other = (await gql(runtime, OTHER_GUARDIAN, WITHDRAW, input=by_bureau))["withdrawApplication"]
    assert other["code"] == "NOT_FOUND"

    current = {"applicationId": app_id, "expectedVersion": result["version"]}
    done = (await gql(runtime, GUARDIAN, WITHDRAW, input=current))["withdrawApplication"]
    assert done == {"__typename": "ApplicationChanged", "status": "WITHDRAWN", "version": 2}
    again = (await gql(runtime, GUARDIAN, WITHDRAW, input=by_bureau))["withdrawApplication"]
    assert again["__typename"] == "InvalidTransitionError"


CHANGE_PHONE = """
mutation($phone: String!) {
  changeGuardianPhone(input: {phone: $phone}) {
    __typename
    ... on GuardianPhoneChanged { phone }
    ... on Error { code field }
  }
}"""


async def test_guardian_changes_own_phone(runtime: Runtime, season: str) -> None:
    before = await gql(runtime, GUARDIAN, CHANGE_PHONE, phone="13900001111")
    assert before["changeGuardianPhone"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "field": "phone",
    }
    result = await submitted(runtime, season)
    bad = (await gql(runtime, GUARDIAN, CHANGE_PHONE, phone="12345"))["changeGuardianPhone"]
    assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "phone")
    for refused in (None, UNVERIFIED_GUARDIAN, BUREAU):
        answer = await gql(runtime, refused, CHANGE_PHONE, phone="13900001111")
        assert answer["changeGuardianPhone"]["code"] == "FORBIDDEN", refused

    changed = await gql(runtime, GUARDIAN, CHANGE_PHONE, phone="13900001111")
    assert changed["changeGuardianPhone"] == {
        "__typename": "GuardianPhoneChanged",
        "phone": "139****1111",
    }
    view = await gql(runtime, GUARDIAN, APPLICATION, id=result["applicationId"])
    assert view["application"]["guardianPhone"] == "139****1111"


SIGN_IN = """
mutation($username: String!, $password: String!) {
  staffSignIn(input: {username: $username, password: $password}) {
    __typename
    ... on StaffSession { token username role regionCode schoolCode }
    ... on Error { code }
  }
}"""
SIGN_OUT = """
mutation { staffSignOut { __typename ... on StaffSignedOut { ok } ... on Error { code } } }"""
PASSWORD = "correct horse battery"


async def test_staff_sign_in_and_out(runtime: Runtime, season: str) -> None:
    account = AddStaff("zhao", "赵窗口", Role.COUNTER_STAFF, PASSWORD, region_code="420704101")
    await add_staff(runtime, account, Principal.system())
    malformed = ("zha\x00o", "z", "a" * 65, "zhao; drop", "")
    attempts = [("zhao", "wrong password!"), ("nobody", PASSWORD)]
    attempts += [(name, PASSWORD) for name in malformed]  # refused before the database
    for username, password in attempts:
        refused = await gql(runtime, None, SIGN_IN, username=username, password=password)
        assert refused["staffSignIn"] == {
            "__typename": "InvalidCredentialsError",
            "code": "INVALID_CREDENTIALS",
        }

    session = await gql(runtime, None, SIGN_IN, username="Zhao", password=PASSWORD)
    signed = session["staffSignIn"]
    assert signed["__typename"] == "StaffSession"
    assert (signed["username"], signed["role"]) == ("zhao", "COUNTER_STAFF")
    assert (signed["regionCode"], signed["schoolCode"]) == ("420704101", None)
    assert signed["token"].startswith("stf.")
    principal = await runtime.authenticate(f"Bearer {signed['token']}")
    assert principal is not None
    assert (principal.id, principal.role, principal.region_code) == (
        "staff:zhao",
        Role.COUNTER_STAFF,
        "420704101",
    )
    viewer = await gql(runtime, principal, "{ viewer { id roleLabel } }")
    assert viewer["viewer"] == {"id": "staff:zhao", "roleLabel": "窗口工作人员"}

    assert (await gql(runtime, None, SIGN_OUT))["staffSignOut"]["code"] == "FORBIDDEN"
    assert (await gql(runtime, GUARDIAN, SIGN_OUT))["staffSignOut"]["code"] == "FORBIDDEN"
    out = await gql(runtime, principal, SIGN_OUT)
    assert out["staffSignOut"] == {"__typename": "StaffSignedOut", "ok": True}
    assert await runtime.authenticate(f"Bearer {signed['token']}") is None
