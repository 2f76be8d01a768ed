"""The application state machine: the table itself, refusals that change nothing, and the
effects every valid transition writes in its transaction."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.casesync import kinds_for
from ruxue_core.domain import AuditEvent, CaseRecord
from ruxue_core.domain.enums import (
    ROLE_ACTOR,
    STATUS_LABELS,
    Actor,
    ReviewDecision,
    Role,
    Status,
)
from ruxue_core.errors import Conflict, Forbidden, InvalidTransition
from ruxue_core.lifecycle import (
    EVENT_LABELS,
    TABLE,
    TERMINAL,
    TRANSITIONS,
    Case,
    Event,
    apply_event,
    load_case,
    transition_for,
)
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    ReviewApplication,
    WithdrawApplication,
    review_application,
    submit_application,
    withdraw_application,
)
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    SCHOOL_REVIEWER,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

SYSTEM = Principal.system()
COUNTED = ("application", "audit_event", "job", "message", "case_record", "review", "evidence")

# ---- the table ------------------------------------------------------------------------------


def test_every_status_has_a_chinese_label() -> None:
    assert set(STATUS_LABELS) == set(Status)
    for status, label in STATUS_LABELS.items():
        assert label.strip(), status
        assert all("\u4e00" <= ch <= "\u9fff" for ch in label), (status, label)
    assert len(set(STATUS_LABELS.values())) == len(Status), "two statuses share a label"


def test_every_event_has_a_chinese_label() -> None:
    assert set(EVENT_LABELS) == set(Event)
    for event, label in EVENT_LABELS.items():
        assert label.strip(), event
        assert all("\u4e00" <= ch <= "\u9fff" for ch in label), (event, label)


def test_transitions_are_derived_from_the_table() -> None:
    assert dict(TRANSITIONS) == {key: row.target for key, row in TABLE.items()}
    for (source, event), row in TABLE.items():
        assert (row.source, row.event) == (source, event)
        assert row.actors, f"{source} --{event}--> {row.target} names no actor"
        assert row.actors <= set(Actor)


def test_terminal_statuses_are_exactly_those_without_outgoing_transitions() -> None:
    sources = {source for source, _ in TRANSITIONS}
    for status in TERMINAL:
        assert status not in sources, f"terminal {status} has an outgoing transition"
    assert set(Status) - sources == set(TERMINAL)


def test_every_status_but_draft_is_reachable_from_draft() -> None:
    reached = {Status.DRAFT}
    frontier = [Status.DRAFT]
    while frontier:
        current = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is current and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Status)
    assert Status.DRAFT not in set(TRANSITIONS.values()), "nothing leads back to draft"


def test_every_role_that_acts_maps_onto_an_actor() -> None:
    assert set(ROLE_ACTOR) == set(Role)
    assert ROLE_ACTOR[Role.AUDITOR] is None
    assert ROLE_ACTOR[Role.ADMIN] is None, "admins run the system and decide no case"
    acting = [actor for actor in ROLE_ACTOR.values() if actor is not None]
    assert len(acting) == len(set(acting)), "one actor per acting role"
    assert set(acting) == set(Actor)
    used = {actor for row in TABLE.values() for actor in row.actors}
    assert used == set(Actor)


G, C, S, B, Y = Actor.GUARDIAN, Actor.COUNTER, Actor.SCHOOL, Actor.BUREAU, Actor.SYSTEM


def expected_actors(source: Status, event: Event) -> frozenset[Actor]:
    """Who may cause each transition, as the division of labour between roles says."""
    if event in (Event.SUBMIT, Event.CORRECT, Event.WITHDRAW):
        return frozenset({G, C})  # the family, or counter staff on its behalf
    if event in (
        Event.START_VERIFICATION,
        Event.PASS_VERIFICATION,
        Event.PASS_TO_BUREAU,
        Event.FAIL_VERIFICATION,
        Event.REFER_TO_MANUAL,
    ):
        return frozenset({Y})
    if source is Status.MANUAL_REVIEW and event is not Event.VOID:
        return frozenset({C, B})  # counter staff see the originals; the bureau may decide too
    if source is Status.SCHOOL_REVIEW and event is not Event.VOID:
        return frozenset({S})
    if event in (Event.ENROLL, Event.MARK_NO_SHOW):
        return frozenset({S})
    if event in (Event.ADMIT, Event.COORDINATE):
        return frozenset({B, Y})
    if source is Status.BUREAU_REVIEW or event is Event.VOID:
        return frozenset({B})
    raise AssertionError(f"no rule for {source} --{event}-->")  # pragma: no cover


def test_each_role_decides_only_its_own_steps() -> None:
    for (source, event), row in TABLE.items():
        assert row.actors == expected_actors(source, event), (source, event, row.actors)


def test_transition_for_names_status_and_event_in_chinese() -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition_for(Status.SUBMITTED, Event.APPROVE)
    assert STATUS_LABELS[Status.SUBMITTED] in caught.value.message
    assert EVENT_LABELS[Event.APPROVE] in caught.value.message


# ---- helpers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Row counts, job kinds and the application's status and version at one moment."""

    rows: dict[str, int]
    job_kinds: Counter[str]
    status: Status
    version: int


def _counts(uow: UnitOfWork) -> dict[str, int]:
    return {
        table: uow.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in COUNTED
    }


async def snapshot(runtime: Runtime, application_id: int) -> Snapshot:
    def read(uow: UnitOfWork) -> Snapshot:
        kinds = uow.session.execute(sa.text("SELECT kind FROM job")).scalars().all()
        case = load_case(uow, application_id)
        assert case is not None
        application = case.application
        return Snapshot(_counts(uow), Counter(kinds), application.status, application.version)

    return await runtime.read(read)


async def submit(runtime: Runtime, season: str, principal: Principal = GUARDIAN) -> int:
    submitted = await submit_application(runtime, submit_command(season), principal)
    return submitted.application_id


def _case(uow: UnitOfWork, application_id: int) -> Case:
    case = load_case(uow, application_id)
    assert case is not None
    return case


async def apply(runtime: Runtime, application_id: int, event: Event, principal: Principal) -> None:
    def work(uow: UnitOfWork) -> None:
        apply_event(uow, _case(uow, application_id), event, principal, comment=f"test {event}")
        uow.commit()

    await runtime.write(work)


# ---- refusals change nothing ----------------------------------------------------------------


async def test_invalid_event_raises_and_changes_nothing(runtime: Runtime, season: str) -> None:
    application_id = await submit(runtime, season)
    before = await snapshot(runtime, application_id)
    assert before.status is Status.SUBMITTED

    def work(uow: UnitOfWork) -> None:
        case = _case(uow, application_id)
        with pytest.raises(InvalidTransition):
            apply_event(uow, case, Event.APPROVE, BUREAU)
        assert case.application.status is Status.SUBMITTED  # not even in memory
        assert case.application.version == before.version
        uow.commit()  # committing what is left must not write anything either

    await runtime.write(work)
    assert await snapshot(runtime, application_id) == before


async def test_invalid_review_through_the_service_changes_nothing(
    runtime: Runtime, season: str
) -> None:
    application_id = await submit(runtime, season)
    before = await snapshot(runtime, application_id)
    command = ReviewApplication(application_id, decision=ReviewDecision.APPROVE)
    with pytest.raises(InvalidTransition):
        await review_application(runtime, command, SCHOOL_REVIEWER)
    assert await snapshot(runtime, application_id) == before


async def test_terminal_status_refuses_everything(runtime: Runtime, season: str) -> None:
    application_id = await submit(runtime, season)
    withdrawn = await withdraw_application(runtime, WithdrawApplication(application_id), GUARDIAN)
    assert withdrawn.status is Status.WITHDRAWN
    before = await snapshot(runtime, application_id)
    assert before.status is Status.WITHDRAWN
    for event in Event:

        def work(uow: UnitOfWork, event: Event = event) -> None:
            case = _case(uow, application_id)
            with pytest.raises(InvalidTransition):
                apply_event(uow, case, event, BUREAU)
            uow.commit()

        await runtime.write(work)
    assert await snapshot(runtime, application_id) == before


async def _at_school_review(runtime: Runtime, season: str) -> int:
    application_id = await submit(runtime, season)
    await apply(runtime, application_id, Event.START_VERIFICATION, SYSTEM)
    await apply(runtime, application_id, Event.PASS_VERIFICATION, SYSTEM)
    return application_id


@pytest.mark.parametrize(
    "principal",
    [GUARDIAN, COUNTER, AUDITOR, ADMIN, BUREAU, SYSTEM],
    ids=lambda p: p.role.value,
)
async def test_forbidden_actor_raises_and_changes_nothing(
    runtime: Runtime, season: str, principal: Principal
) -> None:
    application_id = await _at_school_review(runtime, season)
    before = await snapshot(runtime, application_id)
    assert before.status is Status.SCHOOL_REVIEW

    def work(uow: UnitOfWork) -> None:
        case = _case(uow, application_id)
        for event in (Event.APPROVE, Event.RETURN, Event.REJECT):
            with pytest.raises(Forbidden) as caught:
                apply_event(uow, case, event, principal)
            assert caught.value.code == "forbidden"
            assert case.application.status is Status.SCHOOL_REVIEW
        uow.commit()

    await runtime.write(work)
    assert await snapshot(runtime, application_id) == before


@pytest.mark.parametrize("principal", [ADMIN, AUDITOR], ids=lambda p: p.role.value)
async def test_admin_and_auditor_cause_no_transition_at_all(
    runtime: Runtime, season: str, principal: Principal
) -> None:
    application_id = await submit(runtime, season)
    before = await snapshot(runtime, application_id)
    for event in Event:
        if (Status.SUBMITTED, event) not in TABLE:
            continue

        def work(uow: UnitOfWork, event: Event = event) -> None:
            with pytest.raises(Forbidden):
                apply_event(uow, _case(uow, application_id), event, principal)
            uow.commit()

        await runtime.write(work)
    assert await snapshot(runtime, application_id) == before


async def test_guardian_cannot_review_through_the_service(runtime: Runtime, season: str) -> None:
    application_id = await _at_school_review(runtime, season)
    before = await snapshot(runtime, application_id)
    with pytest.raises(Forbidden):
        await review_application(
            runtime, ReviewApplication(application_id, ReviewDecision.APPROVE), GUARDIAN
        )
    assert await snapshot(runtime, application_id) == before


@pytest.mark.parametrize("event", [Event.APPROVE, Event.RETURN, Event.SUBMIT])
async def test_a_stale_version_is_a_conflict_whatever_the_current_status(
    runtime: Runtime, season: str, event: Event
) -> None:
    """A caller who read an older version gets "refresh" (Conflict), not a guard failure
    about a status it never saw: the same answer on SQLite and PostgreSQL."""
    application_id = await _at_school_review(runtime, season)
    seen = await snapshot(runtime, application_id)
    await apply(runtime, application_id, Event.APPROVE, SCHOOL_REVIEWER)  # now bureau_review
    before = await snapshot(runtime, application_id)

    def work(uow: UnitOfWork) -> None:
        with pytest.raises(Conflict):
            apply_event(
                uow,
                _case(uow, application_id),
                event,
                SCHOOL_REVIEWER,
                expected_version=seen.version,
            )

    await runtime.write(work)
    assert await snapshot(runtime, application_id) == before


async def test_an_update_from_a_stale_read_is_a_conflict(runtime: Runtime, season: str) -> None:
    """Without an expected version, the update is still guarded by the version read: a case
    read before someone else's change cannot overwrite it."""
    application_id = await _at_school_review(runtime, season)
    stale = await runtime.read(lambda uow: _case(uow, application_id))
    await apply(runtime, application_id, Event.RETURN, SCHOOL_REVIEWER)  # now needs_correction
    before = await snapshot(runtime, application_id)
    assert stale.application.version == before.version - 1

    def work(uow: UnitOfWork) -> None:
        with pytest.raises(Conflict):
            apply_event(uow, stale, Event.APPROVE, SCHOOL_REVIEWER)
        uow.commit()

    await runtime.write(work)
    assert await snapshot(runtime, application_id) == before
    assert before.status is Status.NEEDS_CORRECTION


# ---- valid transitions write their effects --------------------------------------------------

WALK: list[tuple[Event, Principal]] = [
    (Event.START_VERIFICATION, SYSTEM),
    (Event.FAIL_VERIFICATION, SYSTEM),
    (Event.CORRECT, GUARDIAN),
    (Event.START_VERIFICATION, SYSTEM),
    (Event.REFER_TO_MANUAL, SYSTEM),
    (Event.CONFIRM_MANUALLY, COUNTER),
    (Event.APPROVE, SCHOOL_REVIEWER),
    (Event.APPROVE, BUREAU),
    (Event.COORDINATE, SYSTEM),
    (Event.ADMIT, BUREAU),
    (Event.ENROLL, SCHOOL_REVIEWER),
]


def expected_jobs(target: Status, season_file: SeasonFile) -> Counter[str]:
    expected = Counter({"casesync.push": 1})
    if target in season_file.sms.templates:
        expected["notify.send"] = 1
    if target is Status.SUBMITTED:
        expected["verification.run"] = 1
    return expected


async def newest_audit(runtime: Runtime) -> AuditEvent:
    return await runtime.read(
        lambda uow: uow.session.exec(
            select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(1)
        ).one()
    )


async def case_records(runtime: Runtime, application_id: int) -> list[CaseRecord]:
    return await runtime.read(
        lambda uow: list(
            uow.session.exec(
                select(CaseRecord)
                .where(col(CaseRecord.application_id) == application_id)
                .order_by(col(CaseRecord.version))
            ).all()
        )
    )


async def check_effects(
    runtime: Runtime,
    application_id: int,
    before: Snapshot,
    event: Event,
    principal: Principal,
    season_file: SeasonFile,
) -> Snapshot:
    after = await snapshot(runtime, application_id)
    source = before.status
    target = TRANSITIONS[(source, event)]
    assert after.status is target
    assert after.version == before.version + 1

    delta = {table: after.rows[table] - before.rows[table] for table in COUNTED}
    messages = 1 if target in season_file.sms.templates else 0
    assert delta == {
        "application": 0,
        "audit_event": 1,
        "job": sum(expected_jobs(target, season_file).values()),
        "message": messages,
        "case_record": len(kinds_for(source, target)),
        "review": 0,
        "evidence": 0,
    }, (source, event)
    assert after.job_kinds - before.job_kinds == expected_jobs(target, season_file)

    audit = await newest_audit(runtime)
    assert audit.action == f"application.{event.value}"
    assert audit.actor == principal.id
    assert audit.role == principal.role.value
    assert audit.data["from"] == source.value
    assert audit.data["to"] == target.value
    assert audit.data["version"] == after.version

    records = await case_records(runtime, application_id)
    written = records[-len(kinds_for(source, target)) :]
    assert [r.kind for r in written] == list(kinds_for(source, target))
    # Numbered per case without gaps, each naming the application version it belongs to.
    assert [r.version for r in records] == list(range(1, len(records) + 1))
    assert {r.application_version for r in written} == {after.version}
    [process] = [r for r in written if r.kind == "process"]
    assert process.payload["from_status"] == source.value
    assert process.payload["to_status"] == target.value
    assert process.payload["action"] == event.value
    assert process.payload["handler_role"] == principal.role.value
    return after


async def test_each_valid_transition_writes_one_audit_event_its_case_records_and_jobs(
    runtime: Runtime, season: str, season_file: SeasonFile
) -> None:
    rows_before = await runtime.read(_counts)
    submitted = await submit_application(runtime, submit_command(season), GUARDIAN)
    assert submitted.version == 1
    # Submission inserts the application already submitted (no draft row is ever written) and
    # creates the guardian, which is audited on its own: compare against the database before,
    # plus that application row and that guardian entry.
    empty = Snapshot(
        {
            table: count + (1 if table in ("application", "audit_event") else 0)
            for table, count in rows_before.items()
        },
        Counter(),
        Status.DRAFT,
        submitted.version - 1,
    )
    current = await check_effects(
        runtime, submitted.application_id, empty, Event.SUBMIT, GUARDIAN, season_file
    )
    first = await case_records(runtime, submitted.application_id)
    assert [r.kind for r in first] == ["accept", "process"]

    kinds = {"accept", "process"}
    visited = {current.status}
    for event, principal in WALK:
        await apply(runtime, submitted.application_id, event, principal)
        current = await check_effects(
            runtime, submitted.application_id, current, event, principal, season_file
        )
        kinds |= {r.kind for r in await case_records(runtime, submitted.application_id)}
        visited.add(current.status)

    assert current.status is Status.ENROLLED
    assert kinds == {"accept", "process", "special", "result"}
    # The walk passed through statuses both with and without an SMS template.
    assert visited & set(season_file.sms.templates)
    assert visited - set(season_file.sms.templates)


async def test_submission_audits_the_new_guardian_before_the_submission(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit_application(runtime, submit_command(season), GUARDIAN)

    def read(uow: UnitOfWork) -> list[tuple[str, str]]:
        rows = uow.session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [(r.action, r.entity_id) for r in rows if r.action != "season.load"]

    [(create, guardian), (submit_action, receipt)] = await runtime.read(read)
    assert create == "guardian.create"
    assert guardian.startswith("guardian:")
    assert (submit_action, receipt) == ("application.submit", submitted.receipt_no)


async def test_correction_queues_a_new_verification_job(runtime: Runtime, season: str) -> None:
    application_id = await submit(runtime, season)
    for event in (Event.START_VERIFICATION, Event.FAIL_VERIFICATION):
        await apply(runtime, application_id, event, SYSTEM)
    await apply(runtime, application_id, Event.CORRECT, GUARDIAN)
    keys = await runtime.read(
        lambda uow: (
            uow.session.execute(
                sa.text("SELECT idempotency_key FROM job WHERE kind = 'verification.run'")
            )
            .scalars()
            .all()
        )
    )
    assert len(keys) == 2
    assert len(set(keys)) == 2
