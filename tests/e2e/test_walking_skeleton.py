"""The walking skeleton through real parts over real HTTP: GraphQL submit → the three
verifier plugins ask the sandbox's 公安, 自然资源 and 人社 services over signed HTTP → the
season's rules verify the family (房户一致) → school and bureau review → the devlog notifier
writes the SMS. Also ``ruxue demo --json`` end to end."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import BUREAU, GUARDIAN, SCHOOL_REVIEWER, child_id_number
from ruxue_gateway.app import create_app
from ruxue_sandbox import (
    DepartmentRecord,
    DepartmentService,
    create_department_app,
    serve_in_thread,
)

GUARDIAN_ID = "420704198501011233"
ADDRESS = "燕矶镇新街10号"

SUBMIT = """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  __typename ... on SubmitApplicationSuccess { applicationId receiptNo queryCode } } }"""
STATUS = """query($r: String!, $q: String!) { applicationStatus(receiptNo: $r, queryCode: $q) {
  ... on StatusLookup { status } } }"""
APPLICATION = """query($id: ID!) { application(id: $id) {
  ... on Application { status version schoolCode evidence { source outcome } } } }"""
REVIEW = """mutation($input: ReviewApplicationInput!) { reviewApplication(input: $input) {
  __typename ... on ApplicationChanged { status version } } }"""


Departments = dict[str, tuple[str, DepartmentService]]


@pytest.fixture
def departments() -> Iterator[Departments]:
    services = {name: DepartmentService(name) for name in ("gongan", "ziranziyuan", "renshe")}
    with (
        serve_in_thread(create_department_app(services["gongan"])) as gongan,
        serve_in_thread(create_department_app(services["ziranziyuan"])) as ziranziyuan,
        serve_in_thread(create_department_app(services["renshe"])) as renshe,
    ):
        urls = {"gongan": gongan, "ziranziyuan": ziranziyuan, "renshe": renshe}
        yield {name: (urls[name], service) for name, service in services.items()}


def graphql(
    client: httpx.Client, principal: Principal | None, settings: Settings, query: str, **v: Any
) -> dict[str, Any]:
    headers = (
        {"Authorization": f"Bearer {issue_dev_token(settings, principal)}"} if principal else {}
    )
    response = client.post("/graphql", json={"query": query, "variables": v}, headers=headers)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.mark.slow
def test_submit_verify_review_notify(seeded_settings: Settings, departments: Departments) -> None:
    child = child_id_number(42)
    hukou = {
        "hukou_address": ADDRESS,
        "township_code": "420704101",
        "household_no": "HH0000042",
        "move_in_date": "2021-03-01",
    }
    home = {
        "property_address": ADDRESS,
        "township_code": "420704101",
        "use": "residential",
        "share": "full",
        "registration_date": "2018-05-01",
        "certificate_kind": "certificate",
        "unit_no": "U42",
    }
    records = [
        DepartmentRecord("hukou", child, "张小明", hukou, relations={GUARDIAN_ID: "father"}),
        DepartmentRecord("hukou", GUARDIAN_ID, "张三", hukou),
        DepartmentRecord("property", GUARDIAN_ID, "张三", home),
    ]
    for _, service in departments.values():
        service.add(records)
    settings = seeded_settings.model_copy(
        update={
            "verifiers": list(departments),
            "notifiers": ["devlog"],
            "plugin_options": {name: {"base_url": url} for name, (url, _) in departments.items()},
        }
    )
    submission = {
        "seasonCode": "2026-primary",
        "child": {"name": "张小明", "idNumber": child},
        "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
        "guardianPhone": "13912345678",
        "relationship": "FATHER",
        "address": ADDRESS,
        "townshipCode": "420704101",
        "consent": True,
    }
    with (
        serve_in_thread(create_app(settings)) as gateway_url,
        httpx.Client(base_url=gateway_url, timeout=10) as client,
    ):
        result = graphql(client, GUARDIAN, settings, SUBMIT, input=submission)["submitApplication"]
        assert result["__typename"] == "SubmitApplicationSuccess"
        status = wait_for(client, settings, result, lambda s: s not in ("SUBMITTED", "VERIFYING"))
        assert status == "SCHOOL_REVIEW"

        view = graphql(client, BUREAU, settings, APPLICATION, id=result["applicationId"])
        view = view["application"]
        assert {(e["source"], e["outcome"]) for e in view["evidence"]} == {
            ("hukou", "MATCH"),
            ("property", "MATCH"),
            ("residence_permit", "NOT_FOUND"),
            ("social_insurance", "NOT_FOUND"),
        }
        assert view["schoolCode"] == SCHOOL_REVIEWER.school_code  # the zoned school
        version = view["version"]
        for reviewer, expected in ((SCHOOL_REVIEWER, "BUREAU_REVIEW"), (BUREAU, "APPROVED")):
            decision = {
                "applicationId": result["applicationId"],
                "decision": "APPROVE",
                "expectedVersion": version,
            }
            changed = graphql(client, reviewer, settings, REVIEW, input=decision)
            assert changed["reviewApplication"]["status"] == expected
            version = changed["reviewApplication"]["version"]

        outbox = settings.data_dir / "sms-outbox.jsonl"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(_lines(outbox)) < 2:
            time.sleep(0.05)
    sms = _lines(outbox)
    assert [m["template"] for m in sms] == ["RX_SUBMITTED", "RX_APPROVED"]
    assert all(result["receiptNo"] in m["text"] for m in sms)
    assert result["queryCode"] in sms[0]["text"]
    assert not any(child in m["text"] or GUARDIAN_ID in m["text"] for m in sms)
    queries = [q for _, service in departments.values() for q in service.queries]
    assert len(queries) == 5  # child and guardian hukou, permit, property, insurance
    assert {q.context.purpose for q in queries} == {"义务教育入学报名资格核验"}
    assert {q.context.case_ref for q in queries} == {result["receiptNo"]}
    assert len({q.context.consent_ref for q in queries}) == 1
    assert None not in {q.context.consent_ref for q in queries}


def wait_for(client: httpx.Client, settings: Settings, submitted: dict[str, Any], done: Any) -> str:
    lookup = {"r": submitted["receiptNo"], "q": submitted["queryCode"]}
    deadline = time.monotonic() + 20
    while True:
        status: str = graphql(client, None, settings, STATUS, **lookup)["applicationStatus"][
            "status"
        ]
        if done(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """``ruxue demo`` with 40 families, its platform failing 20 % of pushes and acknowledging
    late: the summary and the run's data directory."""
    directory = tmp_path_factory.mktemp("demo")
    out, run = directory / "out.json", directory / "run"
    demo = [sys.executable, "-m", "ruxue_gateway", "demo", "--families", "40"]
    completed = subprocess.run(
        [*demo, "--json", str(out), "--data-dir", str(run), "--platform-fail-rate", "0.2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return summary, run


@pytest.mark.slow
def test_demo_exits_zero_and_its_counts_add_up(demo_run: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo_run
    assert summary["applications"] == 40
    assert sum(summary["by_status"].values()) == 40
    assert sum(summary["families_by_kind"].values()) == 40
    checks = summary["verification_checks"]
    # Five checks per application (the season's categories need them), one round each: the
    # demo corrects nobody to a hukou address.
    assert sum(checks.values()) == 40 * 5
    assert summary["ground_truth"] == {"agree": 40, "differ": 0}
    # Every SMS went through the two real vendor notifiers to the fakes: each message
    # delivered (or failed with a reason), none accepted twice, both vendors used.
    vendors = summary["sms_vendors"]
    accepted = sum(v["accepted"] for v in vendors.values())
    assert set(summary["messages"]) <= {"delivered", "failed"}, summary["messages"]
    assert summary["messages"].get("delivered", 0) == accepted > 0
    assert all(v["sent_twice"] == 0 for v in vendors.values()), vendors
    assert all(v["refused_signatures"] == 0 for v in vendors.values()), vendors
    assert set(summary["messages_by_vendor"]) <= {"aliyun", "tencent"}
    # Every job is done but the three periodic rows (audit sequencer, case-push sweep, SMS
    # receipt sweep), always due again; a push that failed every attempt may lie dead, its
    # record pushed anew.
    assert summary["jobs"]["pending"] == 3
    assert set(summary["jobs"]) <= {"done", "pending", "dead"}
    audit = summary["audit"]
    assert set(audit) == {"entries", "heads", "unsequenced", "intact"}
    assert audit["intact"] is True
    assert audit["unsequenced"] == 0  # the demo waits for a head covering everything
    assert audit["heads"] >= 1
    case_records = sum(summary["case_records"].values())
    # Every transition is audited and writes its case records; guardians' creation too.
    assert audit["entries"] > 40 and case_records > 40 * 4
    assert summary["logins"] == {"portal": 40}  # every guardian signed in at the portal


@pytest.mark.slow
def test_the_demo_admits_enrolls_and_coordinates_every_approved_family(
    demo_run: tuple[dict[str, Any], Path],
) -> None:
    """Every approved family is admitted (some after coordination) and enrolled, but the two
    who deliberately do not report; nobody is left approved, admitted or coordinating."""
    summary, _ = demo_run
    by_status = summary["by_status"]
    assert not {"approved", "admitted", "coordinating"} & set(by_status)
    admission = summary["admission"]
    main = admission["main_run"]
    assert main["coordinating"] == 2 and main["skipped"] == 0
    assert main["admitted"] + main["coordinating"] == main["summary"]["applicants"]
    assert by_status["no_show"] == admission["no_shows"] == 2
    assert by_status["enrolled"] == main["summary"]["applicants"] - 2
    coordination = admission["coordination"]
    assert coordination["waiting"] == 2 and coordination["placed_by_hand"] == 1
    assert coordination["run"]["admitted"] == 1
    assert admission["seat_warnings"]["after_tightening"].get("red", 0) >= 1
    assert len(admission["lottery"]["commitment"]) == 64
    # the demo turns the season's calendar to each phase; the operations stay gated
    assert admission["calendar"] == [["placement"], ["publication"], ["enrollment"]]


@pytest.mark.slow
def test_a_demo_season_with_a_failing_late_platform_has_every_record_acknowledged(
    demo_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    """Acceptance: the fake platform fails 20 % of pushes and acknowledges late; afterwards
    every case has every record acknowledged, once per version, in order, and
    ``ruxue casesync report`` shows nothing missing."""
    summary, run = demo_run
    records = sum(summary["case_records"].values())
    assert summary["case_records"] == {"acked": records}
    assert summary["case_sync"] == {
        "queued": 0,
        "sent": 0,
        "acknowledged": records,
        "rejected": 0,
        "missing": 0,
    }
    platform = summary["platform"]
    assert platform["failures"] > 0, "the platform failed some pushes"
    assert platform["arrivals"] > records, "late acknowledgements caused pushes again"
    # The platform holds each (receipt, version) once, acknowledged, none out of order.
    assert platform["stored"] == platform["acknowledged"] == records
    assert platform["order_violations"] == 0 and platform["rejected"] == 0
    assert platform["cases"] == summary["applications"] == 40

    environment = {**os.environ, "RUXUE_DATA_DIR": str(run)}
    report = subprocess.run(
        [sys.executable, "-m", "ruxue_gateway", "casesync", "report", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    reconciled = json.loads(report.stdout)
    assert reconciled["missing"] == 0 and reconciled["rejections"] == []
    assert sum(day["acknowledged"] for day in reconciled["days"]) == records

    # In the database: each case's records run 1…n, each acknowledged once, in order.
    settings = Settings(data_dir=run)
    runtime = Runtime.create(settings)
    try:
        rows = asyncio.run(runtime.read(_records_by_case))
    finally:
        asyncio.run(runtime.close())
    assert len(rows) == 40
    for versions in rows.values():
        assert [v for v, *_ in versions] == list(range(1, len(versions) + 1))
        for (_, sent, acked), (_, next_sent, _) in itertools.pairwise(versions):
            assert acked is not None and next_sent is not None and next_sent >= acked >= sent


def _records_by_case(uow: Any) -> dict[str, list[tuple[int, Any, Any]]]:
    from sqlmodel import col, select

    from ruxue_core.domain import CaseRecord

    cases: dict[str, list[tuple[int, Any, Any]]] = {}
    for record in uow.session.exec(select(CaseRecord).order_by(col(CaseRecord.version))):
        assert record.status.value == "acked" and record.attempts >= 1
        cases.setdefault(record.receipt_no, []).append(
            (record.version, record.sent_at, record.acked_at)
        )
    return cases
