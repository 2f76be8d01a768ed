"""Verification outcomes with a fake verifier, who may review what, concurrent reviews, and the
SMS a guardian gets."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.casesync import kinds_for
from ruxue_core.domain import Application, Assessment, Evidence, Message, Review
from ruxue_core.domain.enums import (
    MessageStatus,
    Outcome,
    Relationship,
    ReviewDecision,
    Role,
    Status,
)
from ruxue_core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PermanentPluginError,
    RuxueError,
    TemporaryPluginError,
)
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.lifecycle import Case, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_name
from ruxue_core.services import applications
from ruxue_core.services.applications import (
    CorrectApplication,
    ReviewApplication,
    StatusChanged,
    SubmitApplication,
    Submitted,
    correct_application,
    review_application,
    submit_application,
)
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    GUARDIAN_ID,
    OTHER_COUNTER,
    OTHER_SCHOOL_REVIEWER,
    SCHOOL_REVIEWER,
    submit_command,
)
from ruxue_core.testing.fakes import (
    CapturingNotifier,
    CapturingNotifierPlugin,
    FakeVerifier,
    FakeVerifierPlugin,
)
from ruxue_core.uow import UnitOfWork

COLLEAGUE = Principal("reviewer-3", Role.SCHOOL_REVIEWER, "吴老师", school_code="LK-YJ-01")
"""A second reviewer of the same school as :data:`SCHOOL_REVIEWER`."""


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def notifier() -> CapturingNotifier:
    return CapturingNotifier()


@pytest.fixture
async def rt(
    settings: Settings, verifier: FakeVerifier, notifier: CapturingNotifier
) -> AsyncIterator[Runtime]:
    """A runtime with the fake verifier and notifier selected and a quick retry policy."""
    quick = settings.verification.model_copy(
        update={"timeout_seconds": 0.2, "attempts": 3, "wait_initial": 0.001, "wait_max": 0.005}
    )
    tuned = settings.model_copy(
        update={"verifiers": ["fake"], "notifiers": ["fake"], "verification": quick}
    )
    runtime = Runtime.create(
        tuned, extra_plugins=[FakeVerifierPlugin(verifier), CapturingNotifierPlugin(notifier)]
    )
    try:
        yield runtime
    finally:
        await runtime.close()


async def submit(rt: Runtime, command: SubmitApplication) -> Submitted:
    return await submit_application(rt, command, GUARDIAN)


async def drain(rt: Runtime) -> int:
    return await Worker(rt, HANDLERS).drain()


async def application(rt: Runtime, application_id: int) -> Application:
    found = await rt.read(lambda uow: uow.session.get(Application, application_id))
    assert found is not None
    return found


async def evidence(rt: Runtime, application_id: int) -> list[Evidence]:
    def read(uow: UnitOfWork) -> list[Evidence]:
        rows = uow.session.exec(
            select(Evidence)
            .where(col(Evidence.application_id) == application_id)
            .order_by(col(Evidence.id))
        )
        return list(rows.all())

    return await rt.read(read)


async def count(rt: Runtime, sql: str, **params: object) -> int:
    def read(uow: UnitOfWork) -> int:
        value = uow.session.execute(sa.text(sql), params).scalar_one()
        assert isinstance(value, int)
        return value

    return await rt.read(read)


async def at_school_review(rt: Runtime, season: str) -> Submitted:
    submitted = await submit(rt, submit_command(season))
    await drain(rt)
    assert (await application(rt, submitted.application_id)).status is Status.SCHOOL_REVIEW
    return submitted


async def correct(rt: Runtime, application_id: int) -> StatusChanged:
    """The guardian corrects the address and resubmits."""
    return await correct_application(
        rt, CorrectApplication(application_id, address="燕矶镇新街12号"), GUARDIAN
    )


# ---- verification outcomes ------------------------------------------------------------------

SEASON_CHECKS = {
    ("hukou", "child"),
    ("hukou", "guardian"),
    ("property", "guardian"),
    ("residence_permit", "guardian"),
    ("social_insurance", "guardian"),
}
"""The checks the sample season's categories need."""


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.MATCH, Status.SCHOOL_REVIEW),
        (Outcome.MISMATCH, Status.NEEDS_CORRECTION),
        (Outcome.NOT_FOUND, Status.MANUAL_REVIEW),  # data that cannot decide: no loop
        (Outcome.NEEDS_MANUAL_REVIEW, Status.MANUAL_REVIEW),
        (Outcome.SOURCE_UNAVAILABLE, Status.MANUAL_REVIEW),
    ],
)
async def test_verification_outcome_decides_the_next_status(
    rt: Runtime, season: str, verifier: FakeVerifier, outcome: Outcome, status: Status
) -> None:
    verifier.behaviour = outcome
    command = submit_command(season)
    submitted = await submit(rt, command)
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is status
    assert {(r.source, r.subject) for r in verifier.requests} == SEASON_CHECKS
    request = verifier.requests[0]
    assert (request.source, request.subject) == ("hukou", "child"), "child hukou first"
    assert request.id_number == command.child.id_number
    assert request.guardian_id_number == GUARDIAN_ID
    assert request.claimed_address == command.address
    assert request.case_ref == submitted.receipt_no
    assert request.acting_user == GUARDIAN.id
    assert request.consent_ref is not None
    assert {r.consent_ref for r in verifier.requests} == {request.consent_ref}
    rows = await evidence(rt, submitted.application_id)
    assert len(rows) == len(SEASON_CHECKS)
    row = next(r for r in rows if r.request_id == request.request_id)
    assert row.outcome is outcome
    assert row.consent_ref == request.consent_ref
    assert row.source_record_id is not None and row.source_record_id.startswith("HK-")
    assert (row.plugin, row.source, row.subject, row.round) == ("fake", "hukou", "child", 1)
    facts = rt.cipher.decrypt_json(row.facts_ct, purpose="evidence.facts")
    assert facts == {
        "address": command.address,
        "township_code": "420704101",
        "household": "HH-FAKE",
        "move_in_date": "2020-05-01",
        "relationship": "father",
    }


async def test_temporary_faults_on_every_attempt_lead_to_manual_review(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = TemporaryPluginError
    submitted = await submit(rt, submit_command(season))
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.MANUAL_REVIEW
    attempts = rt.settings.verification.attempts
    assert len(verifier.requests) == attempts * len(SEASON_CHECKS)
    ids = [r.request_id for r in verifier.requests]
    assert all(ids.count(i) == attempts for i in ids), "retries reuse the request id"
    rows = await evidence(rt, submitted.application_id)
    assert {r.outcome for r in rows} == {Outcome.SOURCE_UNAVAILABLE}
    row = rows[0]
    assert row.request_id in ids
    assert row.reason is not None
    assert "fake" in row.reason
    assert "TemporaryPluginError" in row.reason


async def test_a_hanging_source_times_out_into_manual_review(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.delay = 10.0  # longer than any timeout the tests configure
    submitted = await submit(rt, submit_command(season))
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.MANUAL_REVIEW
    assert len(verifier.requests) == rt.settings.verification.attempts * len(SEASON_CHECKS)
    rows = await evidence(rt, submitted.application_id)
    assert {r.outcome for r in rows} == {Outcome.SOURCE_UNAVAILABLE}
    row = rows[0]
    assert row.reason is not None
    assert "TimeoutError" in row.reason


async def test_a_permanent_fault_is_not_retried_and_goes_to_manual_review(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = PermanentPluginError
    submitted = await submit(rt, submit_command(season))
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.MANUAL_REVIEW
    assert len(verifier.requests) == len(SEASON_CHECKS), "not retried"
    rows = await evidence(rt, submitted.application_id)
    assert {r.outcome for r in rows} == {Outcome.NEEDS_MANUAL_REVIEW}
    assert {r.request_id for r in rows} == {r.request_id for r in verifier.requests}


async def test_a_correction_starts_a_second_verification_round(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = Outcome.MISMATCH
    submitted = await submit(rt, submit_command(season))
    await drain(rt)
    assert (await application(rt, submitted.application_id)).status is Status.NEEDS_CORRECTION

    corrected = await correct(rt, submitted.application_id)
    assert corrected.status is Status.SUBMITTED
    verifier.behaviour = Outcome.MATCH
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.SCHOOL_REVIEW
    rows = await evidence(rt, submitted.application_id)
    checks = len(SEASON_CHECKS)
    assert [(r.round, r.outcome) for r in rows] == [(1, Outcome.MISMATCH)] * checks + [
        (2, Outcome.MATCH)
    ] * checks
    assert {r.request_id for r in rows} == {r.request_id for r in verifier.requests}
    assert len({r.request_id for r in rows}) == 2 * checks
    assert verifier.requests[-1].claimed_address == "燕矶镇新街12号", "the corrected address"


# ---- who may review what --------------------------------------------------------------------


async def review(
    rt: Runtime,
    application_id: int,
    decision: ReviewDecision,
    reviewer: Principal,
    expected_version: int | None = None,
) -> StatusChanged:
    command = ReviewApplication(
        application_id,
        decision,
        comment=f"{reviewer.id} says {decision}",
        expected_version=expected_version,
    )
    return await review_application(rt, command, reviewer)


async def totals(rt: Runtime, application_id: int) -> tuple[int, int, int, int, int, int]:
    """Reviews of the application; audit events, jobs, case records, messages, evidence."""
    reviews = await count(
        rt, "SELECT count(*) FROM review WHERE application_id = :a", a=application_id
    )
    return (
        reviews,
        await count(rt, "SELECT count(*) FROM audit_event"),
        await count(rt, "SELECT count(*) FROM job"),
        await count(rt, "SELECT count(*) FROM case_record"),
        await count(rt, "SELECT count(*) FROM message"),
        await count(rt, "SELECT count(*) FROM evidence"),
    )


async def state(rt: Runtime, application_id: int) -> tuple[Status, int, tuple[int, ...]]:
    """The application's status and version, and every row count a review could change."""
    found = await application(rt, application_id)
    return found.status, found.version, await totals(rt, application_id)


def answer(error: RuxueError) -> tuple[type[RuxueError], str, str | None, str]:
    """Everything a caller can observe about a refusal."""
    return type(error), error.message, error.field, str(error)


async def test_counter_staff_cannot_approve_at_school_review(rt: Runtime, season: str) -> None:
    submitted = await at_school_review(rt, season)
    before = await state(rt, submitted.application_id)
    for decision in ReviewDecision:
        with pytest.raises(Forbidden):
            await review(rt, submitted.application_id, decision, COUNTER)
    assert await state(rt, submitted.application_id) == before


@pytest.mark.parametrize("principal", [ADMIN, AUDITOR], ids=lambda p: p.role.value)
async def test_admin_and_auditor_cause_no_transition(
    rt: Runtime, season: str, verifier: FakeVerifier, principal: Principal
) -> None:
    at_school = await at_school_review(rt, season)
    verifier.behaviour = Outcome.NEEDS_MANUAL_REVIEW
    at_manual = await submit(rt, submit_command(season))
    await drain(rt)
    assert (await application(rt, at_manual.application_id)).status is Status.MANUAL_REVIEW
    for submitted in (at_school, at_manual):
        before = await state(rt, submitted.application_id)
        for decision in ReviewDecision:
            with pytest.raises(Forbidden):
                await review(rt, submitted.application_id, decision, principal)
        assert await state(rt, submitted.application_id) == before


async def test_a_bureau_officer_does_not_decide_the_school_step(rt: Runtime, season: str) -> None:
    submitted = await at_school_review(rt, season)
    before = await state(rt, submitted.application_id)
    with pytest.raises(Forbidden):
        await review(rt, submitted.application_id, ReviewDecision.APPROVE, BUREAU)
    assert await state(rt, submitted.application_id) == before


async def test_a_reviewer_of_another_school_gets_the_answer_for_a_missing_application(
    rt: Runtime, season: str
) -> None:
    submitted = await at_school_review(rt, season)
    before = await state(rt, submitted.application_id)
    missing = submitted.application_id + 1000
    for decision in ReviewDecision:
        with pytest.raises(NotFound) as not_theirs:
            await review(rt, submitted.application_id, decision, OTHER_SCHOOL_REVIEWER)
        with pytest.raises(NotFound) as no_such:
            await review(rt, missing, decision, SCHOOL_REVIEWER)
        assert answer(not_theirs.value) == answer(no_such.value)
        assert not_theirs.value.field == "applicationId"
    assert await state(rt, submitted.application_id) == before

    # Its own school's reviewer decides it.
    done = await review(rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER)
    assert done.status is Status.BUREAU_REVIEW


async def test_counter_staff_decide_manual_review_in_their_township_only(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = Outcome.NEEDS_MANUAL_REVIEW
    submitted = await submit(rt, submit_command(season, township_code="420704101"))
    await drain(rt)
    before = await state(rt, submitted.application_id)
    assert before[0] is Status.MANUAL_REVIEW
    missing = submitted.application_id + 1000

    with pytest.raises(NotFound) as not_theirs:
        await review(rt, submitted.application_id, ReviewDecision.APPROVE, OTHER_COUNTER)
    with pytest.raises(NotFound) as no_such:
        await review(rt, missing, ReviewDecision.APPROVE, COUNTER)
    assert answer(not_theirs.value) == answer(no_such.value)
    with pytest.raises(Forbidden):
        await review(rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER)
    assert await state(rt, submitted.application_id) == before

    done = await review(rt, submitted.application_id, ReviewDecision.APPROVE, COUNTER)
    assert done.status is Status.SCHOOL_REVIEW
    assert done.version == before[1] + 1


# ---- concurrent review ----------------------------------------------------------------------


async def test_two_reviewers_racing_on_one_version_exactly_one_wins(
    rt: Runtime, season: str
) -> None:
    submitted = await at_school_review(rt, season)
    read_by_both = await application(rt, submitted.application_id)
    version = read_by_both.version
    reviews, audits, _, records, _, _ = await totals(rt, submitted.application_id)
    assert reviews == 0

    outcomes = await asyncio.gather(
        review(rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER, version),
        review(rt, submitted.application_id, ReviewDecision.RETURN, COLLEAGUE, version),
        return_exceptions=True,
    )
    await check_one_winner(rt, submitted, version, outcomes, audits, records)


async def check_one_winner(
    rt: Runtime,
    submitted: Submitted,
    version: int,
    outcomes: Sequence[StatusChanged | BaseException],
    audits: int,
    records: int,
) -> None:
    """Exactly one of (SCHOOL_REVIEWER approves, COLLEAGUE returns) won; the other changed
    nothing and got ``Conflict``."""
    wins = [o for o in outcomes if isinstance(o, StatusChanged)]
    losses = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(wins) == 1, outcomes
    assert len(losses) == 1, outcomes
    assert isinstance(losses[0], Conflict), repr(losses[0])
    winner_index = outcomes.index(wins[0])
    winner = (SCHOOL_REVIEWER, COLLEAGUE)[winner_index]
    decision = (ReviewDecision.APPROVE, ReviewDecision.RETURN)[winner_index]

    stored = await application(rt, submitted.application_id)
    assert stored.status is wins[0].status
    assert stored.status is (
        Status.BUREAU_REVIEW if decision is ReviewDecision.APPROVE else Status.NEEDS_CORRECTION
    )
    assert stored.version == wins[0].version == version + 1

    def reviews(uow: UnitOfWork) -> list[tuple[str, ReviewDecision, Status]]:
        rows = uow.session.exec(
            select(Review).where(col(Review.application_id) == submitted.application_id)
        ).all()
        return [(r.reviewer, r.decision, r.step) for r in rows]

    assert await rt.read(reviews) == [(winner.id, decision, Status.SCHOOL_REVIEW)]
    after = await totals(rt, submitted.application_id)
    assert after[1] == audits + 1
    # The winning step's case records: a return also starts a correction pause (特别程序).
    assert after[3] == records + len(kinds_for(Status.SCHOOL_REVIEW, stored.status))


async def test_two_reviews_that_read_the_same_version_exactly_one_updates(
    rt: Runtime, season: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both units of work read version N before either writes (on SQLite the writes then
    queue on the writer thread; on PostgreSQL the second ``UPDATE … WHERE version = N`` waits
    for the first to commit): the expected version matches what each read, so only the
    guarded update can tell them apart."""
    submitted = await at_school_review(rt, season)
    version = (await application(rt, submitted.application_id)).version
    _, audits, _, records, _, _ = await totals(rt, submitted.application_id)
    read_first: list[Case] = []
    for _ in range(2):
        case = await rt.read(lambda uow: load_case(uow, submitted.application_id))
        assert case is not None and case.application.version == version
        read_first.append(case)

    def already_read(_uow: UnitOfWork, application_id: int) -> Case:
        case = read_first.pop(0)
        assert case.id == application_id
        return case

    monkeypatch.setattr(applications, "load_case", already_read)
    outcomes = await asyncio.gather(
        review(rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER, version),
        review(rt, submitted.application_id, ReviewDecision.RETURN, COLLEAGUE, version),
        return_exceptions=True,
    )
    assert read_first == [], "both reviews used the version read before"
    await check_one_winner(rt, submitted, version, outcomes, audits, records)


@pytest.mark.postgres_only
async def test_two_reviews_interleaved_inside_their_transactions_on_postgres(
    rt: Runtime, season: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both transactions read version N, then both update: the second update blocks on the
    first's row lock and, once it commits, matches no row."""
    if not rt.db.postgres:
        pytest.skip("SQLite runs one writing transaction at a time")
    submitted = await at_school_review(rt, season)
    version = (await application(rt, submitted.application_id)).version
    _, audits, _, records, _, _ = await totals(rt, submitted.application_id)
    both_read = threading.Barrier(2, timeout=10)

    def load_then_wait(uow: UnitOfWork, application_id: int) -> Case | None:
        case = load_case(uow, application_id)
        both_read.wait()
        return case

    monkeypatch.setattr(applications, "load_case", load_then_wait)
    outcomes = await asyncio.gather(
        review(rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER, version),
        review(rt, submitted.application_id, ReviewDecision.RETURN, COLLEAGUE, version),
        return_exceptions=True,
    )
    assert not both_read.broken
    await check_one_winner(rt, submitted, version, outcomes, audits, records)


async def test_a_stale_expected_version_is_refused_and_changes_nothing(
    rt: Runtime, season: str
) -> None:
    submitted = await at_school_review(rt, season)
    old = await application(rt, submitted.application_id)

    # Someone returns it, the guardian corrects it, verification passes again: the status is
    # school_review once more, but the version the first reviewer read is long gone.
    await review(rt, submitted.application_id, ReviewDecision.RETURN, COLLEAGUE, old.version)
    await correct(rt, submitted.application_id)
    await drain(rt)
    current = await application(rt, submitted.application_id)
    assert current.status is Status.SCHOOL_REVIEW
    assert current.version > old.version
    before = await totals(rt, submitted.application_id)

    for stale in (old.version, current.version - 1, current.version + 1):
        with pytest.raises(Conflict):
            await review(
                rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER, stale
            )

    after = await application(rt, submitted.application_id)
    assert (after.status, after.version) == (current.status, current.version)
    assert await totals(rt, submitted.application_id) == before

    # The current version is accepted.
    done = await review(
        rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER, current.version
    )
    assert done.status is Status.BUREAU_REVIEW


@pytest.mark.parametrize(
    "comment", ["nul\x00byte", "bell\x07", "x" * (applications.MAX_COMMENT + 1)]
)
async def test_a_malformed_comment_is_refused_and_changes_nothing(
    rt: Runtime, season: str, comment: str
) -> None:
    submitted = await at_school_review(rt, season)
    current = await application(rt, submitted.application_id)
    before = await totals(rt, submitted.application_id)
    command = ReviewApplication(
        submitted.application_id, ReviewDecision.APPROVE, comment, current.version
    )
    with pytest.raises(InvalidInput) as refused:
        await review_application(rt, command, SCHOOL_REVIEWER)
    assert refused.value.field == "comment"
    assert await totals(rt, submitted.application_id) == before
    after = await application(rt, submitted.application_id)
    assert (after.status, after.version) == (current.status, current.version)


async def test_a_comment_may_span_lines(rt: Runtime, season: str) -> None:
    submitted = await at_school_review(rt, season)
    command = ReviewApplication(
        submitted.application_id, ReviewDecision.APPROVE, "材料齐全\n\t同意", None
    )
    changed = await review_application(rt, command, SCHOOL_REVIEWER)
    assert changed.status is Status.BUREAU_REVIEW


# ---- SMS ------------------------------------------------------------------------------------


async def test_sms_carry_the_receipt_number_and_never_an_id_number(
    rt: Runtime,
    season: str,
    season_file: SeasonFile,
    verifier: FakeVerifier,
    notifier: CapturingNotifier,
) -> None:
    verifier.behaviour = Outcome.NEEDS_MANUAL_REVIEW
    command = submit_command(season)
    submitted = await submit(rt, command)
    await drain(rt)

    templates = season_file.sms.templates
    expected_codes = {templates[Status.SUBMITTED].code, templates[Status.MANUAL_REVIEW].code}
    assert {sms.template for sms in notifier.sent} == expected_codes
    assert len(notifier.sent) == 2
    secrets = (command.child.id_number, command.guardian.id_number)
    for sms in notifier.sent:
        assert sms.phone == command.guardian_phone
        assert submitted.receipt_no in sms.text
        assert sms.params["receipt_no"] == submitted.receipt_no
        for secret in secrets:
            for form in (secret, secret[:17], secret[-8:]):
                assert form not in sms.text
                assert all(form not in value for value in sms.params.values())
        assert command.address not in sms.text
        assert command.child.name not in sms.text

    [sent_on_submit] = [s for s in notifier.sent if s.template == templates[Status.SUBMITTED].code]
    assert sent_on_submit.params["query_code"] == submitted.query_code
    assert sent_on_submit.text == templates[Status.SUBMITTED].text.format(
        child=mask_name(command.child.name),
        receipt_no=submitted.receipt_no,
        query_code=submitted.query_code,
    )
    [other] = [s for s in notifier.sent if s is not sent_on_submit]
    assert "query_code" not in other.params
    assert submitted.query_code not in other.text.replace(submitted.receipt_no, "")

    def read(uow: UnitOfWork) -> list[Message]:
        return list(uow.session.exec(select(Message).order_by(col(Message.id))).all())

    messages = await rt.read(read)
    assert len(messages) == 2
    for message in messages:
        assert message.status is MessageStatus.ACCEPTED
        assert message.vendor == "fake"
        assert message.vendor_message_id is not None
        assert message.vendor_message_id.startswith("fake-")
        assert "query_code" not in message.params, "the query code is bound only at send time"
        assert message.key.startswith(f"{submitted.receipt_no}:v")
    assert len({m.key for m in messages}) == 2

    # Running the worker again sends nothing twice.
    await drain(rt)
    assert len(notifier.sent) == 2


async def test_a_counter_applicant_is_never_told_to_log_in_or_come_again(
    rt: Runtime,
    season: str,
    season_file: SeasonFile,
    verifier: FakeVerifier,
    notifier: CapturingNotifier,
) -> None:
    """Counter applications get the season's counter wording: the family handed in its
    papers once (只跑一次); online applicants get the online wording."""
    verifier.behaviour = Outcome.NEEDS_MANUAL_REVIEW
    at_counter = await applications.submit_application(rt, submit_command(season), COUNTER)
    online = await submit(rt, submit_command(season))
    await drain(rt)

    by_receipt = {
        receipt: [s for s in notifier.sent if receipt in s.text]
        for receipt in (at_counter.receipt_no, online.receipt_no)
    }
    counter_manual = season_file.sms.counter_templates[Status.MANUAL_REVIEW]
    online_manual = season_file.sms.templates[Status.MANUAL_REVIEW]
    assert counter_manual.code in {s.template for s in by_receipt[at_counter.receipt_no]}
    assert online_manual.code in {s.template for s in by_receipt[online.receipt_no]}
    for status, template in season_file.sms.counter_templates.items():
        for phrase in ("登录", "携带", "到报名点", "前往"):
            assert phrase not in template.text.replace("无需再次前往", ""), (status, phrase)
    for sms in by_receipt[at_counter.receipt_no]:
        assert "登录" not in sms.text and "携带原件" not in sms.text


async def test_a_relationship_the_hukou_contradicts_is_corrected_and_verified(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.facts = {"relationship": "mother"}  # the hukou records the guardian as mother
    submitted = await submit(rt, submit_command(season))  # declared: father
    await drain(rt)
    assert (await application(rt, submitted.application_id)).status is Status.NEEDS_CORRECTION

    def corrections(uow: UnitOfWork) -> list[list[str]]:
        rows = uow.session.exec(select(Assessment).order_by(col(Assessment.round))).all()
        return [row.corrections for row in rows]

    assert await rt.read(corrections) == [["relationship"]]
    fixed = CorrectApplication(
        submitted.application_id, address="燕矶镇新街10号", relationship=Relationship.MOTHER
    )
    assert (await correct_application(rt, fixed, GUARDIAN)).status is Status.SUBMITTED
    await drain(rt)
    assert (await application(rt, submitted.application_id)).status is Status.SCHOOL_REVIEW
    assert await rt.read(corrections) == [["relationship"], []]
