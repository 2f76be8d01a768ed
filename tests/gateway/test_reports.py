"""seasons, schools, me, statistics and auditTrail over GraphQL (in-process): what each role
gets, scoped by the one policy; refusals typed; not-yours answers like not-found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col
from statement_counting import counting

from ruxue_core.domain import Application, Evidence
from ruxue_core.domain.enums import Outcome
from ruxue_core.domain.types import utcnow
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import Submitted, submit_application
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    SCHOOL_REVIEWER,
    submit_command,
)
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
SEASONS: Final = "{ seasons { code name year stage openNow ageCutoff earliestBirth } }"
SCHOOLS: Final = """
query($stage: Stage, $township: String) {
  schools(stage: $stage, townshipCode: $township) {
    code name stage public townshipCode townshipName plan
  }
}"""
ME: Final = """{ me { __typename
  ... on Me { id role roleLabel name townshipCode townshipName schoolCode schoolName
              guardian { name idNumber phone } }
  ... on Error { code } } }"""
STATISTICS: Final = """
query($season: String) { statistics(seasonCode: $season) { __typename
  ... on Statistics {
    scope seasonCode total
    byStatus { key label count } byTownship { key label count }
    bySchool { key label count } byChannel { key label count }
    verification { source checks matched mismatched undecided passRate }
    backlog { status count underOneDay oneToThreeDays threeToSevenDays sevenDaysOrMore oldestSince }
  }
  ... on Error { code field } } }"""
TRAIL: Final = """
query($r: String!) { auditTrail(receiptNo: $r) { __typename
  ... on AuditTrail { receiptNo steps { action actorRole actorRoleLabel actor fromStatus toStatus
                                        toStatusLabel comment details leafHash } }
  ... on Error { code field message } } }"""


async def run(runtime: Runtime, principal: Principal | None, query: str, **variables: Any) -> Any:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    return value


async def test_seasons_and_schools_are_public(
    runtime: Runtime, season: str, season_file: SeasonFile
) -> None:
    (only,) = await run(runtime, None, SEASONS)
    assert only["code"] == season
    assert only["openNow"] is True
    assert only["stage"] == "PRIMARY"
    schools = await run(runtime, None, SCHOOLS)
    assert [s["code"] for s in schools] == sorted(s.code for s in season_file.schools)
    (sw,) = (s for s in schools if s["code"] == "LK-SW-01")
    assert sw == {
        "code": "LK-SW-01",
        "name": "沙窝乡中心小学",
        "stage": "PRIMARY",
        "public": True,
        "townshipCode": "420704103",
        "townshipName": "沙窝乡",
        "plan": 2 * 45 - 5,
    }
    yj = await run(runtime, None, SCHOOLS, township="420704101")
    # the township's public school and the sample's private school (公民同招)
    assert [s["code"] for s in yj] == ["LK-MB-01", "LK-YJ-01"]
    assert await run(runtime, None, SCHOOLS, stage="JUNIOR") == []
    assert await run(runtime, None, SCHOOLS, township="420704\x00101") == []  # not a code


async def test_me(runtime: Runtime, season: str) -> None:
    assert (await run(runtime, None, ME)) == {"__typename": "ForbiddenError", "code": "FORBIDDEN"}
    before = await run(runtime, GUARDIAN, ME)
    assert before["role"] == "GUARDIAN" and before["guardian"] is None
    await submit_application(runtime, submit_command(season), GUARDIAN)
    after = await run(runtime, GUARDIAN, ME)
    assert after["guardian"] == {
        "name": "张三",
        "idNumber": "4207**********1233",
        "phone": "138****5678",
    }
    counter = await run(runtime, COUNTER, ME)
    assert (counter["townshipCode"], counter["townshipName"]) == ("420704101", "燕矶镇")
    school = await run(runtime, SCHOOL_REVIEWER, ME)
    assert (school["schoolCode"], school["schoolName"]) == ("LK-YJ-01", "燕矶镇中心小学")
    assert (await run(runtime, BUREAU, ME))["guardian"] is None


async def _seed(runtime: Runtime, season: str) -> list[Submitted]:
    """Three in 燕矶镇 (one at the counter), one in 杨叶镇; two reach school review, one of
    them ten days ago; two checks."""
    submitted = []
    for command, principal in (
        (submit_command(season), GUARDIAN),
        (submit_command(season), GUARDIAN),
        (submit_command(season), COUNTER),
        (submit_command(season, township_code="420704102", address="杨叶镇杨叶大道8号"), GUARDIAN),
    ):
        submitted.append(await submit_application(runtime, command, principal))

    def shape(uow: UnitOfWork) -> None:
        for s in submitted[:2]:
            case = load_case(uow, s.application_id)
            assert case is not None
            for event in (Event.START_VERIFICATION, Event.PASS_VERIFICATION):
                apply_event(uow, case, event, Principal.system())
            for outcome in (Outcome.MATCH, Outcome.MISMATCH):
                uow.session.add(
                    Evidence(
                        application_id=s.application_id,
                        source="hukou",
                        subject="guardian",
                        plugin="test",
                        outcome=outcome,
                        facts_ct=uow.cipher.encrypt_json({}, purpose="evidence.facts"),
                    )
                )
        uow.session.execute(
            sa.update(Application)
            .where(col(Application.id) == submitted[0].application_id)
            .values(updated_at=utcnow() - timedelta(days=10))
        )
        uow.commit()

    await runtime.write(shape)
    return submitted


async def test_statistics_are_scoped(runtime: Runtime, season: str) -> None:
    await _seed(runtime, season)
    district = await run(runtime, BUREAU, STATISTICS, season=season)
    assert (district["scope"], district["total"], district["seasonCode"]) == ("district", 4, season)
    assert {c["key"]: c["count"] for c in district["byStatus"]} == {
        "school_review": 2,
        "submitted": 2,
    }
    assert {c["key"]: c["count"] for c in district["byTownship"]} == {
        "420704101": 3,
        "420704102": 1,
    }
    assert {c["key"]: c["count"] for c in district["byChannel"]} == {"online": 3, "counter": 1}
    assert {c["key"]: c["count"] for c in district["bySchool"]} == {"LK-YJ-01": 3, "LK-YY-01": 1}
    assert district["verification"] == [
        {
            "source": "hukou",
            "checks": 4,
            "matched": 2,
            "mismatched": 2,
            "undecided": 0,
            "passRate": 0.5,
        }
    ]
    school_review = next(b for b in district["backlog"] if b["status"] == "SCHOOL_REVIEW")
    assert school_review["count"] == 2
    assert (school_review["underOneDay"], school_review["sevenDaysOrMore"]) == (1, 1)
    assert school_review["oldestSince"] is not None
    manual = next(b for b in district["backlog"] if b["status"] == "MANUAL_REVIEW")
    assert (manual["count"], manual["oldestSince"]) == (0, None)

    counter = await run(runtime, COUNTER, STATISTICS)
    assert (counter["scope"], counter["total"]) == ("township:420704101", 3)
    other = await run(runtime, OTHER_COUNTER, STATISTICS)
    assert (other["total"], other["verification"]) == (1, [])
    school = await run(runtime, SCHOOL_REVIEWER, STATISTICS)
    assert (school["scope"], school["total"]) == ("school:LK-YJ-01", 3)
    assert (await run(runtime, ADMIN, STATISTICS))["total"] == 4
    assert (await run(runtime, BUREAU, STATISTICS, season="1999-x"))["total"] == 0
    assert (await run(runtime, GUARDIAN, STATISTICS))["code"] == "FORBIDDEN"
    assert (await run(runtime, None, STATISTICS))["code"] == "FORBIDDEN"
    bad = await run(runtime, BUREAU, STATISTICS, season="' OR 1=1")
    assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "seasonCode")


async def test_audit_trail(runtime: Runtime, season: str) -> None:
    submitted = await _seed(runtime, season)
    receipt = submitted[0].receipt_no
    full = await run(runtime, AUDITOR, TRAIL, r=receipt)
    assert full["receiptNo"] == receipt
    actions = [s["action"] for s in full["steps"]]
    assert actions == [
        "application.submit",
        "application.start_verification",
        "application.pass_verification",
    ]
    first = full["steps"][0]
    assert (first["actor"], first["toStatus"], first["toStatusLabel"]) == (
        "guardian-1",
        "SUBMITTED",
        "已提交",
    )
    assert first["leafHash"] and first["details"]
    assert full["steps"][2]["fromStatus"] == "VERIFYING"
    assert (await run(runtime, BUREAU, TRAIL, r=receipt))["steps"] == full["steps"]

    family = await run(runtime, GUARDIAN, TRAIL, r=receipt)
    assert [s["action"] for s in family["steps"]] == actions
    assert all(s["actor"] is s["details"] is s["leafHash"] is None for s in family["steps"])
    assert family["steps"][1]["actorRoleLabel"] == "系统"

    not_yours = await run(runtime, OTHER_GUARDIAN, TRAIL, r=receipt)
    missing = await run(runtime, OTHER_GUARDIAN, TRAIL, r="RX-NO-SUCH-1")
    assert not_yours == missing
    assert not_yours["code"] == "NOT_FOUND"
    assert (await run(runtime, AUDITOR, TRAIL, r="RX-NO-SUCH-1"))["code"] == "NOT_FOUND"
    for refused in (None, COUNTER, SCHOOL_REVIEWER, ADMIN):
        assert (await run(runtime, refused, TRAIL, r=receipt))["code"] == "FORBIDDEN"
    bad = await run(runtime, AUDITOR, TRAIL, r="%' --")
    assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "receiptNo")


async def test_each_report_is_one_read(runtime: Runtime, season: str) -> None:
    """Statistics, me and the audit trail each take one unit of work and a few statements,
    however many applications there are."""
    submitted = await _seed(runtime, season)
    # statistics: one statement each for states, townships, schools, channels, checks and
    # the backlog; me: the township's or school's name, or the guardian record; the trail:
    # the case within scope, then its entries
    budgets: tuple[tuple[Principal, str, dict[str, str], int], ...] = (
        (BUREAU, STATISTICS, {"season": season}, 6),
        (COUNTER, ME, {}, 1),
        (GUARDIAN, ME, {}, 1),
        (AUDITOR, TRAIL, {"r": submitted[0].receipt_no}, 2),
    )
    for principal, query, variables, statements in budgets:
        with counting(runtime) as counted:
            await run(runtime, principal, query, **variables)
        assert counted.units == 1, (query, counted.statements)
        assert len(counted.statements) <= statements, (query, counted.statements)
