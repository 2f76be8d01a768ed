"""The authorisation matrix, over real HTTP against the gateway: every operation × every
caller (anonymous, garbage, expired and forged tokens, each role in and out of scope) is
allowed or refused exactly as the policy says, and a refusal changes nothing.

The application under test belongs to guardian A, township 420704101 (燕矶镇), school LK-YJ-01.
"Out of scope" callers hold the same role for another family, township or school: they must
get the very answer a missing application gets.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

import httpx
import pytest
import sqlalchemy as sa
from graphql import OperationDefinitionNode, build_schema, parse
from material_helpers import PDF, ask_for_materials
from placement_helpers import SEED, placed_in_published_run
from sqlmodel import col, select

from ruxue_core.domain import Application, ApplicationDraft, Guardian, Job, Material, Message
from ruxue_core.domain.enums import JobStatus, MessageStatus, Relationship, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.phases import Phase, rehearsal
from ruxue_core.placement.lottery import commitment
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.care_claims import declare_care
from ruxue_core.services.drafts import DraftFields, StartDraft, start_draft
from ruxue_core.services.lottery_draws import commit_lottery, reveal_lottery
from ruxue_core.services.placement import run_placement
from ruxue_core.services.seasons import load_season
from ruxue_core.services.sessions import open_guardian_session
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    OTHER_GUARDIAN_ID,
    OTHER_SCHOOL_REVIEWER,
    SCHOOL_REVIEWER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.app import create_app
from ruxue_gateway.schema import schema as gateway_schema
from ruxue_sandbox import serve_in_thread

pytestmark = pytest.mark.slow

MISSING_ID: Final = "2147480000"
CALLERS: Final = (
    "anonymous",
    "garbage",
    "expired",
    "forged",
    "guardian",
    "other_guardian",
    "counter",
    "other_counter",
    "school",
    "other_school",
    "bureau",
    "admin",
    "auditor",
)
PRINCIPALS: Final[dict[str, Principal]] = {
    "guardian": GUARDIAN,
    "other_guardian": OTHER_GUARDIAN,
    "counter": COUNTER,
    "other_counter": OTHER_COUNTER,
    "school": SCHOOL_REVIEWER,
    "other_school": OTHER_SCHOOL_REVIEWER,
    "bureau": BUREAU,
    "admin": ADMIN,
    "auditor": AUDITOR,
}
SIGNED_OUT: Final = frozenset({"anonymous", "garbage", "expired", "forged"})


@dataclass
class Server:
    """The gateway on a loopback port, a runtime on the same database, and tokens."""

    url: str
    runtime: Runtime
    season: str
    headers: dict[str, dict[str, str]]
    loop: asyncio.AbstractEventLoop
    season_file: SeasonFile

    def run(self, coroutine: Any) -> Any:
        """Run a core call on the test's own event loop."""
        return self.loop.run_until_complete(coroutine)

    def graphql(self, caller: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one operation as ``caller``; return ``data`` (a GraphQL error fails the test)."""
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers=self.headers[caller],
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def upload(self, caller: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one operation as a GraphQL multipart request whose ``input.file`` is a PDF."""
        response = httpx.post(
            f"{self.url}/graphql",
            data={
                "operations": json.dumps({"query": query, "variables": variables}),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": ("户口簿.pdf", PDF, "application/pdf")},
            headers=self.headers[caller] | {"Apollo-Require-Preflight": "true"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def send(self, operation: str, caller: str, query: str, variables: dict[str, Any]) -> Any:
        """:meth:`upload` for the upload operation, :meth:`graphql` for the others."""
        if operation == "upload material":
            return self.upload(caller, query, variables)
        return self.graphql(caller, query, variables)


def _headers(settings: Settings) -> dict[str, dict[str, str]]:
    tokens = {name: issue_dev_token(settings, p) for name, p in PRINCIPALS.items()}
    expired = issue_dev_token(settings, BUREAU, ttl=timedelta(minutes=-1))
    forged = tokens["bureau"][:-3] + ("AAA" if not tokens["bureau"].endswith("AAA") else "BBB")
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    headers |= {
        "anonymous": {},
        "garbage": {"Authorization": "Bearer \x7f dev.stf.%%% eyJhbGciOiJub25lIn0.e30."},
        "expired": {"Authorization": f"Bearer {expired}"},
        "forged": {"Authorization": f"Bearer {forged}"},
    }
    return headers


def all_open(data: SeasonFile) -> SeasonFile:
    """``data`` with every phase open now: the matrix checks who may, not when (the phase
    tests check when)."""
    return rehearsal(data, utcnow(), *Phase)


@pytest.fixture(scope="module")
def server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, season_file: SeasonFile
) -> Iterator[Server]:
    """One gateway for the whole matrix (no in-process worker: the test sets the states)."""
    directory = tmp_path_factory.mktemp("matrix")
    url = module_database_url
    settings = Settings(data_dir=directory / "var", database_url=url, verifiers=[], notifiers=[])
    loop = asyncio.new_event_loop()
    runtime = Runtime.create(settings)
    loop.run_until_complete(load_season(runtime, all_open(season_file), Principal.system()))
    season = season_file.season.code
    other_family = submit_command(
        season,
        guardian_id=OTHER_GUARDIAN_ID,
        guardian_name=OTHER_GUARDIAN.name,
        township_code="420704102",
        address="杨叶镇杨叶大道8号",
    )
    loop.run_until_complete(submit_application(runtime, other_family, OTHER_GUARDIAN))
    with serve_in_thread(create_app(settings, in_process_worker=False)) as base_url:
        yield Server(base_url, runtime, season, _headers(settings), loop, season_file)
    loop.run_until_complete(runtime.close())
    loop.close()


# ---- putting an application into a state ------------------------------------------------

ROUTES: Final[dict[Status, tuple[Event, ...]]] = {
    Status.SUBMITTED: (),
    Status.SCHOOL_REVIEW: (Event.START_VERIFICATION, Event.PASS_VERIFICATION),
    Status.MANUAL_REVIEW: (Event.START_VERIFICATION, Event.REFER_TO_MANUAL),
    Status.NEEDS_CORRECTION: (Event.START_VERIFICATION, Event.FAIL_VERIFICATION),
    Status.BUREAU_REVIEW: (Event.START_VERIFICATION, Event.PASS_VERIFICATION, Event.APPROVE),
    Status.ADMITTED: (Event.START_VERIFICATION, Event.PASS_VERIFICATION, Event.APPROVE),
    Status.COORDINATING: (Event.START_VERIFICATION, Event.PASS_VERIFICATION, Event.APPROVE),
}


def _advance(uow: UnitOfWork, application_id: int, events: tuple[Event, ...]) -> None:
    for event in events:
        case = load_case(uow, application_id)
        assert case is not None
        actor = SCHOOL_REVIEWER if event is Event.APPROVE else Principal.system()
        apply_event(uow, case, event, actor)
    ask_for_materials(uow, application_id)  # the materials an upload may provide
    uow.commit()


def _place(uow: UnitOfWork, application_id: int, status: Status) -> None:
    """From bureau review to ``status`` (admitted at LK-YJ-01 with a published result, or
    coordinating), as a publication would leave it."""
    for event in (Event.APPROVE, Event.ADMIT if status is Status.ADMITTED else Event.COORDINATE):
        case = load_case(uow, application_id)
        assert case is not None
        changes = {"school_id": case.application.school_id} if event is Event.ADMIT else None
        apply_event(uow, case, event, BUREAU, changes=changes)
    if status is Status.ADMITTED:
        placed_in_published_run(uow, application_id)
    uow.commit()


def new_application(server: Server, status: Status) -> int:
    """A new application of guardian A in ``status``; returns its id."""
    command = submit_command(server.season, child_id=child_id_number())
    submitted = server.run(submit_application(server.runtime, command, GUARDIAN))
    events = ROUTES[status]
    server.run(server.runtime.write(lambda uow: _advance(uow, submitted.application_id, events)))
    if status in (Status.ADMITTED, Status.COORDINATING):
        server.run(server.runtime.write(lambda uow: _place(uow, submitted.application_id, status)))
    return int(submitted.application_id)


def new_draft(server: Server) -> int:
    """A complete draft of guardian A (a new child); returns its id."""
    fields = DraftFields(
        child_name="张小草",
        child_id_number=child_id_number(),
        guardian_name=GUARDIAN.name,
        guardian_id_number=GUARDIAN.verified_id_number,
        guardian_phone="13812345678",
        relationship=Relationship.FATHER,
        address="燕矶镇新街10号",
        township_code="420704101",
        consent=True,
    )

    def clear(uow: UnitOfWork) -> None:  # keep under the cap on open drafts per guardian
        uow.session.execute(
            sa.delete(ApplicationDraft).where(col(ApplicationDraft.application_id).is_(None))
        )
        uow.commit()

    server.run(server.runtime.write(clear))
    draft = server.run(start_draft(server.runtime, StartDraft(server.season, fields), GUARDIAN))
    return int(draft.id)


def snapshot(server: Server, application_id: int) -> tuple[Any, ...]:
    """What a refused operation must leave unchanged."""

    def read(uow: UnitOfWork) -> tuple[Any, ...]:
        application = uow.session.get(Application, application_id)
        assert application is not None
        guardian = uow.session.get(Guardian, application.guardian_id)
        assert guardian is not None
        materials = uow.session.exec(
            select(Material.id).where(col(Material.application_id) == application_id)
        ).all()
        return (
            application.status,
            application.version,
            application.address_ct,
            guardian.phone_ct,
            guardian.name,
            len(materials),
        )

    result: tuple[Any, ...] = server.run(server.runtime.read(read))
    return result


def receipt_of(server: Server, application_id: int) -> str:
    """The application's receipt number (办件编号)."""

    def read(uow: UnitOfWork) -> str:
        application = uow.session.get(Application, application_id)
        assert application is not None
        return application.receipt_no

    result: str = server.run(server.runtime.read(read))
    return result


def dead_job(server: Server) -> int:
    """A dead-lettered job to retry."""

    def make(uow: UnitOfWork) -> int:
        job = Job(kind="test.noop", payload={}, idempotency_key=f"dead-{uuid.uuid4().hex}")
        job.status = JobStatus.DEAD
        uow.session.add(job)
        uow.session.flush()
        uow.commit()
        assert job.id is not None
        return job.id

    result: int = server.run(server.runtime.write(make))
    return result


def failed_message(server: Server, application_id: str) -> str:
    """A failed SMS of the application to resend (the missing id stays missing)."""
    if application_id == MISSING_ID:
        return MISSING_ID

    def make(uow: UnitOfWork) -> int:
        message = Message(
            key=f"matrix-{uuid.uuid4().hex}",
            application_id=int(application_id),
            template="RX_SUBMITTED",
            phone_ct=uow.cipher.encrypt("13812345678", purpose="message.phone"),
            status=MessageStatus.FAILED,
            error="devlog: 模拟失败",
        )
        uow.session.add(message)
        uow.session.flush()
        uow.commit()
        assert message.id is not None
        return message.id

    return str(server.run(server.runtime.write(make)))


# ---- the operations ---------------------------------------------------------------------

RESULT = "__typename ... on Error { code message field }"
APPLICATION = f"query Q($id: ID!) {{ application(id: $id) {{ {RESULT} }} }}"
REVIEW = (
    "mutation M($input: ReviewApplicationInput!) { reviewApplication(input: $input) { "
    + RESULT
    + " } }"
)
WITHDRAW = (
    "mutation M($input: WithdrawApplicationInput!) { withdrawApplication(input: $input) { "
    + RESULT
    + " } }"
)
CORRECT = (
    "mutation M($input: CorrectApplicationInput!) { correctApplication(input: $input) { "
    + RESULT
    + " } }"
)
SUBMIT = (
    "mutation M($input: SubmitApplicationInput!) { submitApplication(input: $input) { "
    + RESULT
    + " } }"
)
DEAD_JOBS = "query { deadJobs { " + RESULT + " } }"
RETRY = "mutation M($input: RetryJobInput!) { retryJob(input: $input) { " + RESULT + " } }"
PHONE = (
    "mutation M($input: ChangeGuardianPhoneInput!) { changeGuardianPhone(input: $input) { "
    + RESULT
    + " } }"
)
PAPER = (
    "mutation M($input: RecordPaperSeenInput!) { recordPaperSeen(input: $input) { "
    + RESULT
    + " } }"
)
MESSAGES = f"query Q($id: ID!) {{ applicationMessages(applicationId: $id) {{ {RESULT} }} }}"
FAILED_MESSAGES = "query { failedMessages { " + RESULT + " } }"
RESEND = (
    "mutation M($input: ResendMessageInput!) { resendMessage(input: $input) { " + RESULT + " } }"
)
UPLOAD = (
    "mutation M($input: UploadMaterialInput!) { uploadMaterial(input: $input) { " + RESULT + " } }"
)
SIGN_OUT = "mutation { staffSignOut { " + RESULT + " } }"
GUARDIAN_SIGN_OUT = "mutation { guardianSignOut { " + RESULT + " } }"
VIEWER = "query { viewer { id role } }"
APPLICATIONS = (
    "query Q($filter: ApplicationFilterInput) { applications(first: 5, filter: $filter) { "
    + RESULT
    + " ... on ApplicationConnection { edges { node { id } } } } }"
)
MY_APPLICATIONS = (
    "query Q($after: String) { myApplications(first: 100, after: $after) { "
    + RESULT
    + " ... on ApplicationConnection { edges { node { id } } pageInfo { hasNextPage endCursor } }"
    + " } }"
)
ME = "query { me { " + RESULT + " } }"
STATISTICS = "query { statistics { " + RESULT + " ... on Statistics { scope total } } }"
AUDIT_TRAIL = "query Q($r: String!) { auditTrail(receiptNo: $r) { " + RESULT + " } }"
CATALOGUE = "query { seasons { code } schools { code } }"
START = (
    "mutation M($input: StartApplicationInput!) { startApplication(input: $input) { "
    + RESULT
    + " } }"
)
UPDATE = (
    "mutation M($input: UpdateApplicationInput!) { updateApplication(input: $input) { "
    + RESULT
    + " } }"
)
MY_DRAFTS = "query { myDrafts { " + RESULT + " } }"
COUNTER_CREATE = (
    "mutation M($input: CreateCounterApplicationInput!) { createCounterApplication(input: $input)"
    " { " + RESULT + " } }"
)
MANUAL = (
    "mutation M($input: RecordManualVerificationInput!) { recordManualVerification(input: $input)"
    " { " + RESULT + " } }"
)
GUIDE = 'query { serviceGuide(townshipCode: "420704101") { ' + RESULT + " } }"
CATCHMENT = (
    'query { schoolsForAddress(townshipCode: "420704104", village: "机场社区") { ' + RESULT + " } }"
)
LOTTERY = "query Q($s: String!) { lottery(seasonCode: $s) { " + RESULT + " } }"
COMMIT_LOTTERY = (
    "mutation M($input: CommitLotteryInput!) { commitLottery(input: $input) { " + RESULT + " } }"
)
REVEAL_LOTTERY = (
    "mutation M($input: RevealLotteryInput!) { revealLottery(input: $input) { " + RESULT + " } }"
)
RUN_PLACEMENT = (
    "mutation M($input: RunPlacementInput!) { runPlacement(input: $input) { " + RESULT + " } }"
)
PUBLISH_PLACEMENT = (
    "mutation M($input: PublishPlacementInput!) { publishPlacement(input: $input) { "
    + RESULT
    + " } }"
)
PLACEMENT_RUN = "query Q($id: ID!) { placementRun(id: $id) { " + RESULT + " } }"
COMPARE_RUNS = (
    "query Q($a: ID!, $b: ID!) { comparePlacementRuns(firstId: $a, secondId: $b) { "
    + RESULT
    + " } }"
)
EXPLAIN = f"query Q($id: ID!) {{ explainPlacement(applicationId: $id) {{ {RESULT} }} }}"
SEAT_WARNINGS = "query Q($s: String!) { seatWarnings(seasonCode: $s) { " + RESULT + " } }"
CONFIRM_ENROLLMENT = (
    "mutation M($input: EnrollmentInput!) { confirmEnrollment(input: $input) { " + RESULT + " } }"
)
NO_SHOW = "mutation M($input: EnrollmentInput!) { recordNoShow(input: $input) { " + RESULT + " } }"
PLACE_COORDINATED = (
    "mutation M($input: PlaceCoordinatedInput!) { placeCoordinated(input: $input) { "
    + RESULT
    + " } }"
)
PRIVATE_OPTIONS = "query Q($s: String!) { privateSchoolOptions(seasonCode: $s) { " + RESULT + " } }"
CHOOSE_PRIVATE = (
    "mutation M($input: ChoosePrivateSchoolInput!) { choosePrivateSchool(input: $input) { "
    + RESULT
    + " } }"
)
CARE_CATEGORIES = "query Q($s: String!) { careCategories(seasonCode: $s) { " + RESULT + " } }"
DECLARE_CARE = (
    "mutation M($input: DeclareCareClaimInput!) { declareCareClaim(input: $input) { "
    + RESULT
    + " } }"
)
DECIDE_CARE = (
    "mutation M($input: DecideCareClaimInput!) { decideCareClaim(input: $input) { "
    + RESULT
    + " } }"
)
STAFF: Final = {"counter", "other_counter", "school", "other_school", "bureau", "admin", "auditor"}


COUNTERPART: Final = {
    "other_guardian": "guardian",
    "other_counter": "counter",
    "other_school": "school",
}


@dataclass(frozen=True)
class Operation:
    """One operation of the matrix: how to run it and who may."""

    name: str
    allowed: frozenset[str]
    refused_after_lookup: frozenset[str] = frozenset()
    """Callers whose role may attempt it and who see the application, but whose role may not
    cause this step (the transition table refuses): ``ForbiddenError``. Their out-of-scope
    counterparts get ``NotFoundError``, as do those of allowed callers. Every other caller is
    refused by role before anything is looked up: ``ForbiddenError``."""
    on_application: Status | None = None
    """The state of the target application, when the operation has one."""
    on_draft: bool = False
    """The target is guardian A's complete draft (its counterpart gets ``NotFoundError``)."""


def _op(
    name: str,
    allowed: set[str],
    *,
    status: Status | None = None,
    refused_after_lookup: set[str] | None = None,
    on_draft: bool = False,
) -> Operation:
    refused = frozenset(refused_after_lookup or ())
    return Operation(name, frozenset(allowed), refused, status, on_draft)


OPERATIONS: Final = (
    _op(
        "application",
        {"guardian", "counter", "school", "bureau", "admin", "auditor"},
        status=Status.SCHOOL_REVIEW,
    ),
    _op(
        "review at school review",
        {"school"},
        status=Status.SCHOOL_REVIEW,
        refused_after_lookup={"counter", "bureau"},
    ),
    _op(
        "review at manual review",
        {"counter", "bureau"},
        status=Status.MANUAL_REVIEW,
        refused_after_lookup={"school"},
    ),
    _op(
        "review at bureau review",
        {"bureau"},
        status=Status.BUREAU_REVIEW,
        refused_after_lookup={"counter", "school"},
    ),
    _op("withdraw", {"guardian", "counter"}, status=Status.SUBMITTED),
    _op("record paper seen", {"counter"}, status=Status.MANUAL_REVIEW),
    _op("upload material", {"guardian", "counter"}, status=Status.MANUAL_REVIEW),
    _op("correct", {"guardian", "counter"}, status=Status.NEEDS_CORRECTION),
    _op("submit", {"guardian", "other_guardian", "counter", "other_counter"}),
    _op("dead jobs", {"bureau", "admin", "auditor"}),
    _op("retry job", {"bureau", "admin"}),
    _op("change phone", {"guardian", "other_guardian"}),
    _op(
        "application messages",
        {"counter", "school", "bureau", "admin", "auditor"},
        status=Status.SCHOOL_REVIEW,
    ),
    _op("failed messages", {"bureau", "admin", "auditor"}),
    _op("resend message", {"bureau", "admin"}, status=Status.SCHOOL_REVIEW),
    _op("sign out", set()),  # dev-token sessions are not staff password sessions
    _op("guardian sign out", set()),  # nor are they unified-identity guardian sessions
    _op("applications", STAFF),
    _op("my applications", {"guardian", "other_guardian"}),
    _op("me", set(PRINCIPALS)),
    _op("statistics", STAFF),
    _op("audit trail", {"guardian", "bureau", "auditor"}, status=Status.SCHOOL_REVIEW),
    _op("start application", {"guardian", "other_guardian"}),
    _op("update application", {"guardian"}, on_draft=True),
    _op("submit draft", {"guardian"}, on_draft=True),
    _op("my drafts", {"guardian", "other_guardian"}),
    _op("create counter application", {"counter", "other_counter"}),
    _op(
        "record manual verification",
        {"counter", "bureau"},
        status=Status.MANUAL_REVIEW,
        refused_after_lookup={"school"},
    ),
    _op("service guide", set(CALLERS)),
    _op("schools for address", set(CALLERS)),
    _op("lottery", set(CALLERS)),
    _op("commit lottery", {"bureau"}),
    _op("reveal lottery", {"bureau"}),
    _op("run placement", {"bureau"}),
    _op("publish placement", {"bureau"}),
    _op("placement run", {"bureau", "admin", "auditor"}),
    _op("compare placement runs", {"bureau", "admin", "auditor"}),
    _op("seat warnings", {"bureau", "admin", "auditor"}),
    _op(
        "explain placement",
        {"guardian", "counter", "school", "bureau", "admin", "auditor"},
        status=Status.ADMITTED,
    ),
    _op("confirm enrollment", {"school"}, status=Status.ADMITTED),
    _op("record no show", {"school"}, status=Status.ADMITTED),
    _op("place coordinated", {"bureau"}, status=Status.COORDINATING),
    _op("private school options", set(CALLERS)),
    _op("choose private school", {"guardian", "counter"}, status=Status.SUBMITTED),
    _op("care categories", set(CALLERS)),
    _op("declare care claim", {"guardian", "counter"}, status=Status.SUBMITTED),
    _op("decide care claim", {"bureau"}, status=Status.SUBMITTED),
)
SUBMIT_OPERATION: Final = next(op for op in OPERATIONS if op.name == "submit")
EXPECTED_SUCCESS: Final = {
    "application": "Application",
    "dead jobs": "JobList",
    "retry job": "RetryJobSuccess",
    "change phone": "GuardianPhoneChanged",
    "submit": "SubmitApplicationSuccess",
    "sign out": "StaffSignedOut",
    "guardian sign out": "GuardianSignedOut",
    "applications": "ApplicationConnection",
    "my applications": "ApplicationConnection",
    "me": "Me",
    "statistics": "Statistics",
    "audit trail": "AuditTrail",
    "record paper seen": "PaperRecordedPayload",
    "application messages": "SmsMessageList",
    "failed messages": "SmsMessageList",
    "resend message": "ResendMessageSuccess",
    "upload material": "MaterialUploadedPayload",
    "start application": "ApplicationDraft",
    "update application": "ApplicationDraft",
    "submit draft": "SubmitApplicationSuccess",
    "my drafts": "DraftList",
    "create counter application": "SubmitApplicationSuccess",
    "record manual verification": "ManualVerificationRecorded",
    "service guide": "ServiceGuide",
    "schools for address": "Catchment",
    "lottery": "Lottery",
    "commit lottery": "Lottery",
    "reveal lottery": "Lottery",
    "run placement": "PlacementRun",
    "publish placement": "PlacementPublished",
    "placement run": "PlacementRun",
    "compare placement runs": "PlacementComparison",
    "seat warnings": "SeatWarningList",
    "explain placement": "PlacementResult",
    "confirm enrollment": "EnrollmentChangedPayload",
    "record no show": "EnrollmentChangedPayload",
    "place coordinated": "EnrollmentChangedPayload",
    "private school options": "PrivateSchoolOptionList",
    "choose private school": "PrivateSchoolChosen",
    "care categories": "CareCategoryList",
    "declare care claim": "CareClaimPayload",
    "decide care claim": "CareClaimPayload",
}


def _request(
    server: Server, operation: Operation, caller: str, application_id: str
) -> tuple[str, dict[str, Any]]:
    """The query and variables of ``operation`` on ``application_id`` as ``caller``."""
    name = operation.name
    if name == "application":
        return APPLICATION, {"id": application_id}
    if name.startswith("review"):
        return REVIEW, {"input": {"applicationId": application_id, "decision": "APPROVE"}}
    if name == "withdraw":
        return WITHDRAW, {"input": {"applicationId": application_id}}
    if name == "correct":
        corrected = {"applicationId": application_id, "address": "燕矶镇新街12号"}
        return CORRECT, {"input": corrected}
    if name == "submit":
        principal = PRINCIPALS.get(caller)
        guardian = principal if principal and principal.verified_id_number else GUARDIAN
        assert guardian.verified_id_number is not None
        command = {
            "seasonCode": server.season,
            "child": {"name": "张小明", "idNumber": child_id_number()},
            "guardian": {"name": guardian.name, "idNumber": guardian.verified_id_number},
            "guardianPhone": "13812345678",
            "relationship": "FATHER",
            "address": "燕矶镇新街10号",
            "townshipCode": (principal.region_code if principal else None) or "420704101",
        }
        return SUBMIT, {"input": command}
    if name == "record paper seen":
        seen = {"applicationId": application_id, "materials": ["hukou_book"], "consent": True}
        return PAPER, {"input": seen}
    if name == "upload material":
        upload = {"applicationId": application_id, "code": "hukou_book", "file": None}
        return UPLOAD, {"input": upload}
    if name == "dead jobs":
        return DEAD_JOBS, {}
    if name == "retry job":
        return RETRY, {"input": {"jobId": str(dead_job(server))}}
    if name == "change phone":
        return PHONE, {"input": {"phone": "13900001111"}}
    if name == "application messages":
        return MESSAGES, {"id": application_id}
    if name == "failed messages":
        return FAILED_MESSAGES, {}
    if name == "resend message":
        return RESEND, {"input": {"messageId": failed_message(server, application_id)}}
    if name == "sign out":
        return SIGN_OUT, {}
    if name == "guardian sign out":
        return GUARDIAN_SIGN_OUT, {}
    if name == "applications":
        return APPLICATIONS, {}
    if name == "my applications":
        return MY_APPLICATIONS, {}
    if name == "me":
        return ME, {}
    if name == "statistics":
        return STATISTICS, {}
    if name == "start application":
        return START, {"input": {"seasonCode": server.season}}
    if name == "update application":
        fields = {"address": "燕矶镇新街14号"}
        return UPDATE, {"input": {"draftId": application_id, "fields": fields}}
    if name == "submit draft":
        return SUBMIT, {"input": {"draftId": application_id}}
    if name == "my drafts":
        return MY_DRAFTS, {}
    if name == "create counter application":
        principal = PRINCIPALS.get(caller)
        form = {
            "seasonCode": server.season,
            "child": {"name": "王小窗", "idNumber": child_id_number()},
            "guardian": {"name": "张三", "idNumber": GUARDIAN.verified_id_number},
            "guardianPhone": "13812345678",
            "relationship": "FATHER",
            "address": "燕矶镇新街10号",
            "townshipCode": (principal.region_code if principal else None) or "420704101",
            "consent": True,
            "materialsSeen": ["hukou_book"],
        }
        return COUNTER_CREATE, {"input": form}
    if name == "record manual verification":
        confirmations = [{"fact": "HUKOU", "paper": "hukou_book"}]
        verified = {
            "applicationId": application_id,
            "outcome": "CONFIRMED",
            "confirmations": confirmations,
        }
        return MANUAL, {"input": verified}
    if name == "service guide":
        return GUIDE, {}
    if name == "schools for address":
        return CATCHMENT, {}
    if name == "audit trail":
        missing = application_id == MISSING_ID
        receipt = "RX-MISSING-0" if missing else receipt_of(server, int(application_id))
        return AUDIT_TRAIL, {"r": receipt}
    return _placement_request(server, name, application_id)


def fresh_season(server: Server, *, committed: bool = False, revealed: bool = False) -> str:
    """A new season (registration open), its lottery committed and revealed as asked."""
    code = f"mx-{uuid.uuid4().hex[:12]}"
    data = server.season_file.model_copy(
        update={"season": server.season_file.season.model_copy(update={"code": code})}
    )
    runtime = server.runtime
    server.run(load_season(runtime, all_open(data), Principal.system()))
    if committed or revealed:
        server.run(commit_lottery(runtime, code, commitment(SEED), Principal.system()))
    if revealed:
        server.run(reveal_lottery(runtime, code, SEED, Principal.system()))
    return code


def draft_run(server: Server) -> str:
    """A stored draft run of a fresh season; returns its id."""
    code = fresh_season(server, revealed=True)
    run = server.run(run_placement(server.runtime, code, Principal.system()))
    return str(run.id)


def _placement_request(
    server: Server, name: str, application_id: str
) -> tuple[str, dict[str, Any]]:
    if name == "lottery":
        return LOTTERY, {"s": fresh_season(server, committed=True)}
    if name == "commit lottery":
        commit = {"seasonCode": fresh_season(server), "commitment": commitment(SEED)}
        return COMMIT_LOTTERY, {"input": commit}
    if name == "reveal lottery":
        reveal = {"seasonCode": fresh_season(server, committed=True), "seed": SEED}
        return REVEAL_LOTTERY, {"input": reveal}
    if name == "run placement":
        return RUN_PLACEMENT, {"input": {"seasonCode": fresh_season(server, revealed=True)}}
    if name == "publish placement":
        return PUBLISH_PLACEMENT, {"input": {"runId": draft_run(server)}}
    if name == "placement run":
        return PLACEMENT_RUN, {"id": draft_run(server)}
    if name == "compare placement runs":
        return COMPARE_RUNS, {"a": draft_run(server), "b": draft_run(server)}
    if name == "seat warnings":
        return SEAT_WARNINGS, {"s": fresh_season(server)}
    if name == "explain placement":
        return EXPLAIN, {"id": application_id}
    if name in ("confirm enrollment", "record no show"):
        query = CONFIRM_ENROLLMENT if name == "confirm enrollment" else NO_SHOW
        return query, {"input": {"applicationId": application_id}}
    if name == "place coordinated":
        placed = {"applicationId": application_id, "schoolCode": "LK-YJ-01"}
        return PLACE_COORDINATED, {"input": placed}
    if name == "private school options":
        return PRIVATE_OPTIONS, {"s": server.season}
    if name == "choose private school":
        chosen = {"applicationId": application_id, "schoolCode": "LK-MB-01"}
        return CHOOSE_PRIVATE, {"input": chosen}
    if name == "care categories":
        return CARE_CATEGORIES, {"s": server.season}
    if name == "declare care claim":
        declared = {"applicationId": application_id, "kind": "military"}
        return DECLARE_CARE, {"input": declared}
    if name == "decide care claim":
        if application_id != MISSING_ID:
            server.run(declare_care(server.runtime, int(application_id), "military", GUARDIAN))
        return DECIDE_CARE, {"input": {"applicationId": application_id, "confirm": True}}
    raise AssertionError(name)


def _expected(operation: Operation, caller: str) -> str:
    if caller in operation.allowed:
        return EXPECTED_SUCCESS.get(operation.name, "ApplicationChanged")
    counterpart = COUNTERPART.get(caller)
    looks_up = operation.allowed | operation.refused_after_lookup
    targeted = operation.on_application is not None or operation.on_draft
    if targeted and counterpart in looks_up:
        return "NotFoundError"
    return "ForbiddenError"


def _first(data: dict[str, Any]) -> dict[str, Any]:
    (value,) = data.values()
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_matrix(server: Server, operation: Operation, caller: str) -> None:
    """Allowed callers succeed; refused ones get the typed refusal and change nothing."""
    status = operation.on_application
    application_id = new_application(server, status) if status is not None else None
    before = snapshot(server, application_id) if application_id is not None else None
    target = new_draft(server) if operation.on_draft else application_id
    query, variables = _request(server, operation, caller, str(target))
    result = _first(server.send(operation.name, caller, query, variables))
    expected = _expected(operation, caller)
    assert result["__typename"] == expected, (operation.name, caller, result)
    if expected.endswith("Error") and application_id is not None:
        assert snapshot(server, application_id) == before, "a refusal changed the application"
    if expected == "NotFoundError":
        # Not-yours answers exactly like not-found: same type, code, message and field.
        missing_query, missing_variables = _request(server, operation, caller, MISSING_ID)
        missing = _first(server.send(operation.name, caller, missing_query, missing_variables))
        assert missing == result


@pytest.mark.parametrize("caller", CALLERS)
def test_viewer_names_only_a_valid_caller(server: Server, caller: str) -> None:
    viewer = server.graphql(caller, VIEWER, {})["viewer"]
    if caller in SIGNED_OUT:
        assert viewer is None
    else:
        assert viewer == {"id": PRINCIPALS[caller].id, "role": PRINCIPALS[caller].role.value}


def test_a_non_ascii_authorization_header_is_anonymous(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": VIEWER},
        headers=[(b"authorization", b"Bearer \xe9\xff dev.\xfe")],
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}


def test_takeover_fails_and_leaves_the_other_family_untouched(server: Server) -> None:
    """Guardian B types guardian A's ID number for a made-up child: refused, A unchanged, A
    still sees the application and B does not."""
    application_id = new_application(server, Status.SCHOOL_REVIEW)
    before = snapshot(server, application_id)
    query, variables = _request(server, SUBMIT_OPERATION, "other_guardian", "")
    hijack = dict(variables["input"])
    hijack["guardian"] = {"name": OTHER_GUARDIAN.name, "idNumber": GUARDIAN.verified_id_number}
    hijack["guardianPhone"] = "13700000000"
    result = _first(server.graphql("other_guardian", query, {"input": hijack}))
    assert result["__typename"] == "InvalidInputError"
    assert result["field"] == "guardian.idNumber"
    assert snapshot(server, application_id) == before
    own = _first(server.graphql("guardian", APPLICATION, {"id": str(application_id)}))
    assert own["__typename"] == "Application"
    theirs = _first(server.graphql("other_guardian", APPLICATION, {"id": str(application_id)}))
    assert theirs["__typename"] == "NotFoundError"


def test_a_guardian_login_without_a_verified_id_cannot_apply(server: Server) -> None:
    unverified = replace(GUARDIAN, id="guardian-unverified", verified_id_number=None)
    settings = server.runtime.settings
    headers = {"Authorization": f"Bearer {issue_dev_token(settings, unverified)}"}
    server.headers["unverified"] = headers
    query, variables = _request(server, SUBMIT_OPERATION, "guardian", "")
    result = _first(server.graphql("unverified", query, variables))
    assert result["__typename"] == "ForbiddenError"


def test_other_family_cannot_use_a_borrowed_identity_number(server: Server) -> None:
    """Guardian A cannot apply as guardian B either (the form must name the login's person)."""
    query, variables = _request(server, SUBMIT_OPERATION, "guardian", "")
    borrowed = dict(variables["input"])
    borrowed["guardian"] = {"name": OTHER_GUARDIAN.name, "idNumber": OTHER_GUARDIAN_ID}
    result = _first(server.graphql("guardian", query, {"input": borrowed}))
    assert result["__typename"] == "InvalidInputError"


@pytest.mark.parametrize("caller", CALLERS)
def test_the_logout_route_ends_only_guardian_sessions(server: Server, caller: str) -> None:
    """``POST /auth/logout`` refuses every caller without a guardian session."""
    response = httpx.post(f"{server.url}/auth/logout", headers=server.headers[caller], timeout=30)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_a_guardian_session_reaches_its_own_application_only_until_sign_out(
    server: Server,
) -> None:
    """A unified-identity session is a guardian caller like any other, scoped to its family."""
    assert GUARDIAN.verified_id_number is not None
    login = replace(GUARDIAN, id="portal-user-1", assurance_level=3)
    signed_in = server.run(open_guardian_session(server.runtime, "hubei_portal", login))
    server.headers["session"] = {"Authorization": f"Bearer {signed_in.token}"}
    own = new_application(server, Status.SCHOOL_REVIEW)
    mine = _first(server.graphql("session", APPLICATION, {"id": str(own)}))
    assert mine["__typename"] == "Application"
    missing = _first(server.graphql("session", APPLICATION, {"id": MISSING_ID}))
    assert missing["__typename"] == "NotFoundError"
    out = _first(server.graphql("session", GUARDIAN_SIGN_OUT, {}))
    assert out["__typename"] == "GuardianSignedOut"
    after = _first(server.graphql("session", APPLICATION, {"id": str(own)}))
    assert after["__typename"] == "ForbiddenError"


@pytest.mark.parametrize("caller", CALLERS)
def test_lists_show_exactly_what_a_lookup_shows(server: Server, caller: str) -> None:
    """A list never shows an application that ``application(id)`` would hide, nor hides one
    it would show."""
    application_id = str(new_application(server, Status.SCHOOL_REVIEW))
    lookup = _first(server.graphql(caller, APPLICATION, {"id": application_id}))
    if caller in STAFF:
        receipt = receipt_of(server, int(application_id))
        listed = _first(server.graphql(caller, APPLICATIONS, {"filter": {"receiptNo": receipt}}))
        pages = [listed]
    else:
        pages = [_first(server.graphql(caller, MY_APPLICATIONS, {}))]
        while pages[-1].get("pageInfo", {}).get("hasNextPage"):
            after = pages[-1]["pageInfo"]["endCursor"]
            pages.append(_first(server.graphql(caller, MY_APPLICATIONS, {"after": after})))
    if pages[0]["__typename"] != "ApplicationConnection":
        assert lookup["__typename"] != "Application"
        return
    ids = [edge["node"]["id"] for page in pages for edge in page["edges"]]
    assert (application_id in ids) == (lookup["__typename"] == "Application"), (caller, lookup)


@pytest.mark.parametrize("caller", CALLERS)
def test_the_catalogue_is_public(server: Server, caller: str, season_file: SeasonFile) -> None:
    """Seasons and schools answer every caller alike, a broken token included."""
    data = server.graphql(caller, CATALOGUE, {})
    assert data == server.graphql("anonymous", CATALOGUE, {})
    codes = [season["code"] for season in data["seasons"]]
    # The admission operations' fresh seasons ("mx-…") share the module's database.
    assert [code for code in codes if not code.startswith("mx-")] == [server.season]
    assert len(data["schools"]) == len(season_file.schools)


OUTSIDE_THE_MATRIX: Final = {
    "applicationStatus": "the anonymous lookup by receipt number and query code, the same for "
    "every caller (its lockout: tests/gateway/test_graphql.py)",
    "staffSignIn": "signing in comes before any role (tests/gateway/test_graphql.py)",
}
"""Root fields the matrix leaves out, and why."""


def test_every_operation_of_the_schema_is_in_the_matrix() -> None:
    """Every query and mutation of the gateway's schema is sent by one of this module's
    documents, which the matrix's rows send (or is named above with the reason it is not):
    a new operation cannot skip the matrix."""
    schema = build_schema(gateway_schema.as_str())
    assert schema.query_type is not None and schema.mutation_type is not None
    root = set(schema.query_type.fields) | set(schema.mutation_type.fields)
    documents = [
        value
        for value in globals().values()
        if isinstance(value, str) and value.startswith(("query", "mutation"))
    ]
    sent = {
        selection.name.value
        for document in documents
        for definition in parse(document).definitions
        if isinstance(definition, OperationDefinitionNode)
        for selection in definition.selection_set.selections
        if hasattr(selection, "name")
    }
    assert root - sent == set(OUTSIDE_THE_MATRIX)
