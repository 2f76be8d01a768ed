"""Verification outcomes with a fake verifier, concurrent reviews, and the SMS a guardian gets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.domain import Application, Evidence, Message, Review
from ruxue_core.domain.enums import MessageStatus, Outcome, ReviewDecision, Role, Status
from ruxue_core.errors import Conflict, PermanentPluginError, TemporaryPluginError
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.lifecycle import Event, apply_event
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_name
from ruxue_core.services.applications import (
    ReviewApplication,
    StatusChanged,
    SubmitApplication,
    Submitted,
    review_application,
    submit_application,
)
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import GUARDIAN, SCHOOL_REVIEWER, submit_command
from ruxue_core.testing.fakes import (
    CapturingNotifier,
    CapturingNotifierPlugin,
    FakeVerifier,
    FakeVerifierPlugin,
)

OTHER_REVIEWER = Principal("reviewer-2", Role.SCHOOL_REVIEWER, "周老师", school_code="LK-YJ-01")
GUARDIAN_ID = "420704198501011233"


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
    async with rt.unit_of_work() as uow:
        return await submit_application(uow, command, GUARDIAN)


async def drain(rt: Runtime) -> int:
    return await Worker(rt, HANDLERS).drain()


async def application(rt: Runtime, application_id: int) -> Application:
    async with rt.unit_of_work(read_only=True) as uow:
        found = await uow.session.get(Application, application_id)
        assert found is not None
        return found


async def evidence(rt: Runtime, application_id: int) -> list[Evidence]:
    async with rt.unit_of_work(read_only=True) as uow:
        rows = await uow.session.exec(
            select(Evidence)
            .where(col(Evidence.application_id) == application_id)
            .order_by(col(Evidence.id))
        )
        return list(rows.all())


async def count(rt: Runtime, sql: str, **params: object) -> int:
    async with rt.unit_of_work(read_only=True) as uow:
        connection = await uow.session.connection()
        value = (await connection.execute(sa.text(sql), params)).scalar_one()
        assert isinstance(value, int)
        return value


async def at_school_review(rt: Runtime, season: str) -> Submitted:
    submitted = await submit(rt, submit_command(season))
    await drain(rt)
    assert (await application(rt, submitted.application_id)).status is Status.SCHOOL_REVIEW
    return submitted


# ---- verification outcomes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.MATCH, Status.SCHOOL_REVIEW),
        (Outcome.MISMATCH, Status.NEEDS_CORRECTION),
        (Outcome.NOT_FOUND, Status.NEEDS_CORRECTION),
        (Outcome.NEEDS_MANUAL_REVIEW, Status.MANUAL_REVIEW),
        (Outcome.SOURCE_UNAVAILABLE, Status.MANUAL_REVIEW),
    ],
)
async def test_verification_outcome_decides_the_next_status(
    rt: Runtime, season: str, verifier: FakeVerifier, outcome: Outcome, status: Status
) -> None:
    verifier.behaviour = outcome
    submitted = await submit(rt, submit_command(season))
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is status
    assert len(verifier.requests) == 1
    request = verifier.requests[0]
    assert request.source == "hukou"
    assert request.subject == "child"
    assert request.guardian_id_number == GUARDIAN_ID
    rows = await evidence(rt, submitted.application_id)
    assert len(rows) == 1
    row = rows[0]
    assert row.outcome is outcome
    assert row.request_id == request.request_id
    assert row.source_record_id == "HK-1"
    assert (row.plugin, row.source, row.subject, row.round) == ("fake", "hukou", "child", 1)
    assert row.facts == {"move_in_date": "2020-05-01", "relationship": "father"}


async def test_temporary_faults_on_every_attempt_lead_to_manual_review(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = TemporaryPluginError
    submitted = await submit(rt, submit_command(season))
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.MANUAL_REVIEW
    assert len(verifier.requests) == rt.settings.verification.attempts
    assert len({r.request_id for r in verifier.requests}) == 1, "retries reuse the request id"
    [row] = await evidence(rt, submitted.application_id)
    assert row.outcome is Outcome.SOURCE_UNAVAILABLE
    assert row.request_id == verifier.requests[0].request_id
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
    assert len(verifier.requests) == rt.settings.verification.attempts
    [row] = await evidence(rt, submitted.application_id)
    assert row.outcome is Outcome.SOURCE_UNAVAILABLE
    assert row.reason is not None
    assert "TimeoutError" in row.reason


async def test_a_permanent_fault_is_not_retried_and_goes_to_manual_review(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = PermanentPluginError
    submitted = await submit(rt, submit_command(season))
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.MANUAL_REVIEW
    assert len(verifier.requests) == 1
    [row] = await evidence(rt, submitted.application_id)
    assert row.outcome is Outcome.NEEDS_MANUAL_REVIEW
    assert row.request_id == verifier.requests[0].request_id


async def test_a_correction_starts_a_second_verification_round(
    rt: Runtime, season: str, verifier: FakeVerifier
) -> None:
    verifier.behaviour = Outcome.MISMATCH
    submitted = await submit(rt, submit_command(season))
    await drain(rt)
    assert (await application(rt, submitted.application_id)).status is Status.NEEDS_CORRECTION

    async with rt.unit_of_work() as uow:
        stored = await uow.session.get(Application, submitted.application_id)
        assert stored is not None
        await apply_event(uow, stored, Event.CORRECT, GUARDIAN)
        await uow.commit()
    verifier.behaviour = Outcome.MATCH
    await drain(rt)

    assert (await application(rt, submitted.application_id)).status is Status.SCHOOL_REVIEW
    rows = await evidence(rt, submitted.application_id)
    assert [(r.round, r.outcome) for r in rows] == [(1, Outcome.MISMATCH), (2, Outcome.MATCH)]
    assert [r.request_id for r in rows] == [r.request_id for r in verifier.requests]
    assert len({r.request_id for r in rows}) == 2


# ---- concurrent review ----------------------------------------------------------------------


async def review(
    rt: Runtime,
    application_id: int,
    decision: ReviewDecision,
    reviewer: Principal,
    expected_version: int | None,
) -> StatusChanged:
    async with rt.unit_of_work() as uow:
        command = ReviewApplication(
            application_id,
            decision,
            comment=f"{reviewer.id} says {decision}",
            expected_version=expected_version,
        )
        return await review_application(uow, command, reviewer)


async def totals(rt: Runtime, application_id: int) -> tuple[int, int, int, int]:
    reviews = await count(
        rt, "SELECT count(*) FROM review WHERE application_id = :a", a=application_id
    )
    return (
        reviews,
        await count(rt, "SELECT count(*) FROM audit_event"),
        await count(rt, "SELECT count(*) FROM job"),
        await count(rt, "SELECT count(*) FROM case_record"),
    )


async def test_two_reviewers_racing_on_one_version_exactly_one_wins(
    rt: Runtime, season: str
) -> None:
    submitted = await at_school_review(rt, season)
    read_by_both = await application(rt, submitted.application_id)
    version = read_by_both.version
    assert version is not None
    reviews, audits, _, records = await totals(rt, submitted.application_id)
    assert reviews == 0

    outcomes = await asyncio.gather(
        review(rt, submitted.application_id, ReviewDecision.APPROVE, SCHOOL_REVIEWER, version),
        review(rt, submitted.application_id, ReviewDecision.RETURN, OTHER_REVIEWER, version),
        return_exceptions=True,
    )

    wins = [o for o in outcomes if isinstance(o, StatusChanged)]
    losses = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(wins) == 1, outcomes
    assert len(losses) == 1, outcomes
    assert isinstance(losses[0], Conflict), repr(losses[0])
    winner_index = outcomes.index(wins[0])
    winner = (SCHOOL_REVIEWER, OTHER_REVIEWER)[winner_index]
    decision = (ReviewDecision.APPROVE, ReviewDecision.RETURN)[winner_index]

    stored = await application(rt, submitted.application_id)
    assert stored.status is wins[0].status
    assert stored.status is (
        Status.BUREAU_REVIEW if decision is ReviewDecision.APPROVE else Status.NEEDS_CORRECTION
    )
    assert stored.version == wins[0].version == version + 1
    async with rt.unit_of_work(read_only=True) as uow:
        rows = (
            await uow.session.exec(
                select(Review).where(col(Review.application_id) == submitted.application_id)
            )
        ).all()
    assert [(r.reviewer, r.decision, r.step) for r in rows] == [
        (winner.id, decision, Status.SCHOOL_REVIEW)
    ]
    after = await totals(rt, submitted.application_id)
    assert after[1] == audits + 1
    assert after[3] == records + 1


async def test_a_stale_expected_version_is_refused_and_changes_nothing(
    rt: Runtime, season: str
) -> None:
    submitted = await at_school_review(rt, season)
    old = await application(rt, submitted.application_id)
    assert old.version is not None

    # Someone returns it, the guardian corrects it, verification passes again: the status is
    # school_review once more, but the version the first reviewer read is long gone.
    await review(rt, submitted.application_id, ReviewDecision.RETURN, OTHER_REVIEWER, old.version)
    async with rt.unit_of_work() as uow:
        stored = await uow.session.get(Application, submitted.application_id)
        assert stored is not None
        await apply_event(uow, stored, Event.CORRECT, GUARDIAN)
        await uow.commit()
    await drain(rt)
    current = await application(rt, submitted.application_id)
    assert current.status is Status.SCHOOL_REVIEW
    assert current.version is not None and current.version > old.version
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

    async with rt.unit_of_work(read_only=True) as uow:
        messages = (await uow.session.exec(select(Message).order_by(col(Message.id)))).all()
    assert len(messages) == 2
    for message in messages:
        assert message.status is MessageStatus.ACCEPTED
        assert message.vendor == "fake"
        assert message.vendor_message_id is not None
        assert message.vendor_message_id.startswith("fake-")
        assert "query_code" not in message.params, "the query code is bound only at send time"
