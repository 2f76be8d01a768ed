"""The application state machine: one explicit transition table and one function applying it.

Nothing else assigns ``Application.status``. Each transition, in the caller's unit of work,
writes an audit entry, the provincial case records, the SMS the season's templates attach
to the new status, and any follow-up job (a submitted application gets verified).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from ruxue_core import casesync, notify
from ruxue_core.audit import AuditEntry
from ruxue_core.db import execute
from ruxue_core.domain import Application, Child, Guardian, School, Season
from ruxue_core.domain.enums import ROLE_ACTOR, STATUS_LABELS, Actor, Status
from ruxue_core.errors import Conflict, Forbidden, InvalidTransition
from ruxue_core.plugins.contracts import Principal
from ruxue_core.uow import UnitOfWork


class Event(StrEnum):
    """What happens to an application. Events are verbs."""

    SUBMIT = "submit"
    START_VERIFICATION = "start_verification"
    PASS_VERIFICATION = "pass_verification"  # noqa: S105 - an event name, not a secret
    PASS_TO_BUREAU = "pass_to_bureau"  # noqa: S105 - an event name, not a secret
    FAIL_VERIFICATION = "fail_verification"
    REFER_TO_MANUAL = "refer_to_manual"
    CORRECT = "correct"
    CONFIRM_MANUALLY = "confirm_manually"
    CONFIRM_TO_BUREAU = "confirm_to_bureau"
    APPROVE = "approve"
    APPROVE_FINAL = "approve_final"
    RETURN = "return"
    REJECT = "reject"
    COORDINATE = "coordinate"
    ADMIT = "admit"
    ENROLL = "enroll"
    MARK_NO_SHOW = "mark_no_show"
    WITHDRAW = "withdraw"
    VOID = "void"


EVENT_LABELS: Final[dict[Event, str]] = {
    Event.SUBMIT: "提交申请",
    Event.START_VERIFICATION: "开始自动核验",
    Event.PASS_VERIFICATION: "核验合格",
    Event.PASS_TO_BUREAU: "核验合格转区审核",
    Event.FAIL_VERIFICATION: "核验不合格",
    Event.REFER_TO_MANUAL: "转人工核验",
    Event.CORRECT: "补正后重新提交",
    Event.CONFIRM_MANUALLY: "人工核验通过",
    Event.CONFIRM_TO_BUREAU: "人工核验通过转区审核",
    Event.APPROVE: "审核通过",
    Event.APPROVE_FINAL: "学校终审通过",
    Event.RETURN: "退回补正",
    Event.REJECT: "审核不通过",
    Event.COORDINATE: "转入统筹",
    Event.ADMIT: "录取",
    Event.ENROLL: "确认报到",
    Event.MARK_NO_SHOW: "登记未报到",
    Event.WITHDRAW: "撤回申请",
    Event.VOID: "作废",
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: from ``source`` on ``event`` to ``target``, caused by ``actors``."""

    source: Status
    event: Event
    target: Status
    actors: frozenset[Actor]


G, C, S, B, Y = Actor.GUARDIAN, Actor.COUNTER, Actor.SCHOOL, Actor.BUREAU, Actor.SYSTEM
_WITHDRAWABLE = (
    Status.DRAFT,
    Status.SUBMITTED,
    Status.VERIFYING,
    Status.NEEDS_CORRECTION,
    Status.MANUAL_REVIEW,
    Status.SCHOOL_REVIEW,
    Status.BUREAU_REVIEW,
    Status.APPROVED,
)
TERMINAL: Final = frozenset(
    {Status.REJECTED, Status.ENROLLED, Status.NO_SHOW, Status.WITHDRAWN, Status.VOIDED}
)

_ROWS: Final[tuple[tuple[Status, Event, Status, frozenset[Actor]], ...]] = (
    (Status.DRAFT, Event.SUBMIT, Status.SUBMITTED, frozenset({G, C})),
    (Status.SUBMITTED, Event.START_VERIFICATION, Status.VERIFYING, frozenset({Y})),
    # The season routes review: school, bureau, or school then bureau (学校或区社会事务局审核).
    (Status.VERIFYING, Event.PASS_VERIFICATION, Status.SCHOOL_REVIEW, frozenset({Y})),
    (Status.VERIFYING, Event.PASS_TO_BUREAU, Status.BUREAU_REVIEW, frozenset({Y})),
    (Status.VERIFYING, Event.FAIL_VERIFICATION, Status.NEEDS_CORRECTION, frozenset({Y})),
    (Status.VERIFYING, Event.REFER_TO_MANUAL, Status.MANUAL_REVIEW, frozenset({Y})),
    (Status.NEEDS_CORRECTION, Event.CORRECT, Status.SUBMITTED, frozenset({G, C})),
    # 线下审核: counter staff see the originals; the bureau may decide too.
    (Status.MANUAL_REVIEW, Event.CONFIRM_MANUALLY, Status.SCHOOL_REVIEW, frozenset({C, B})),
    (Status.MANUAL_REVIEW, Event.CONFIRM_TO_BUREAU, Status.BUREAU_REVIEW, frozenset({C, B})),
    (Status.MANUAL_REVIEW, Event.RETURN, Status.NEEDS_CORRECTION, frozenset({C, B})),
    (Status.MANUAL_REVIEW, Event.REJECT, Status.REJECTED, frozenset({C, B})),
    (Status.SCHOOL_REVIEW, Event.APPROVE, Status.BUREAU_REVIEW, frozenset({S})),
    (Status.SCHOOL_REVIEW, Event.APPROVE_FINAL, Status.APPROVED, frozenset({S})),
    (Status.SCHOOL_REVIEW, Event.RETURN, Status.NEEDS_CORRECTION, frozenset({S})),
    (Status.SCHOOL_REVIEW, Event.REJECT, Status.REJECTED, frozenset({S})),
    (Status.BUREAU_REVIEW, Event.APPROVE, Status.APPROVED, frozenset({B})),
    (Status.BUREAU_REVIEW, Event.RETURN, Status.NEEDS_CORRECTION, frozenset({B})),
    (Status.BUREAU_REVIEW, Event.REJECT, Status.REJECTED, frozenset({B})),
    (Status.APPROVED, Event.ADMIT, Status.ADMITTED, frozenset({B, Y})),
    (Status.APPROVED, Event.COORDINATE, Status.COORDINATING, frozenset({B, Y})),
    (Status.COORDINATING, Event.ADMIT, Status.ADMITTED, frozenset({B, Y})),
    (Status.ADMITTED, Event.ENROLL, Status.ENROLLED, frozenset({S})),
    (Status.ADMITTED, Event.MARK_NO_SHOW, Status.NO_SHOW, frozenset({S})),
    *((status, Event.WITHDRAW, Status.WITHDRAWN, frozenset({G, C})) for status in _WITHDRAWABLE),
    *(
        (status, Event.VOID, Status.VOIDED, frozenset({B}))
        for status in Status
        if status not in TERMINAL
    ),
)

TABLE: Final[Mapping[tuple[Status, Event], Transition]] = {
    (source, event): Transition(source, event, target, actors)
    for source, event, target, actors in _ROWS
}
TRANSITIONS: Final[Mapping[tuple[Status, Event], Status]] = {
    key: row.target for key, row in TABLE.items()
}


def transition_for(status: Status, event: Event) -> Transition:
    """The table row for ``event`` in ``status``, or ``InvalidTransition`` in Chinese."""
    row = TABLE.get((status, event))
    if row is None:
        raise InvalidTransition(
            f"申请当前为“{STATUS_LABELS[status]}”状态，不能执行“{EVENT_LABELS[event]}”"
        )
    return row


@dataclass(slots=True)
class Case:
    """An application with what its transitions need: season, child, guardian, school."""

    application: Application
    season: Season
    child: Child
    guardian: Guardian
    school: School | None = None
    private_school: School | None = None
    """The private school the family chose (公民同招), if any."""
    notice_no: str | None = None
    """The admission notice number (电子录取通知书编号) an ``admit`` issues, for its records."""

    @property
    def id(self) -> int:
        """The application's id."""
        assert self.application.id is not None
        return self.application.id


CaseSelect = sa.Select[Application, Season, Child, Guardian, School, School]
"""A case's statement: its rows make :class:`Case` objects."""


def _case_query() -> CaseSelect:
    private = aliased(School, name="private_school")
    return (
        sa.select(Application, Season, Child, Guardian, School, private)
        .join(Season, col(Season.id) == Application.season_id)
        .join(Child, col(Child.id) == Application.child_id)
        .join(Guardian, col(Guardian.id) == Application.guardian_id)
        .outerjoin(School, col(School.id) == Application.school_id)
        .outerjoin(private, col(private.id) == Application.private_school_id)
    )


def case_query() -> CaseSelect:
    """Applications with what a case holds (season, child, guardian, school, private choice),
    to narrow and page; rows make :class:`Case` objects."""
    return _case_query()


@functools.cache
def _case_by_id() -> CaseSelect:
    return _case_query().where(col(Application.id) == sa.bindparam("application_id"))


def load_case(uow: UnitOfWork, application_id: int) -> Case | None:
    """The application and everything its transitions need, in one statement."""
    row = uow.session.execute(_case_by_id(), {"application_id": application_id}).first()
    return Case(*row) if row is not None else None


@functools.cache
def _advance() -> sa.Update:
    """``UPDATE application … WHERE id = :id AND version = :seen``: the guarded status change."""
    return (
        sa.update(Application)
        .where(
            col(Application.id) == sa.bindparam("p_id"),
            col(Application.version) == sa.bindparam("p_seen"),
        )
        .values(
            status=sa.bindparam("p_status"),
            version=sa.bindparam("p_version"),
            case_seq=sa.bindparam("p_case_seq"),
            updated_at=sa.bindparam("p_updated_at"),
        )
    )


def open_case(uow: UnitOfWork, case: Case, event: Event, principal: Principal) -> Transition:
    """Insert a new application already moved by its first ``event`` (draft → submitted),
    with every effect of that transition: one ``INSERT`` rather than an insert and an update.

    :raises InvalidTransition, Forbidden: as :func:`apply_event`; nothing is written.
    """
    application = case.application
    row = _allowed(application.status, event, principal)
    application.status = row.target
    application.version = 1
    application.case_seq = len(casesync.kinds_for(row.source, row.target))
    application.created_at = application.updated_at = uow.now
    uow.insert_now(application)
    _effects(uow, case, row, principal, "", since=uow.now, first_record=1)
    return row


def apply_event(
    uow: UnitOfWork,
    case: Case,
    event: Event,
    principal: Principal,
    *,
    comment: str = "",
    expected_version: int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> Transition:
    """Apply ``event`` to the case's application with every effect the transition causes.

    :param changes: other columns to change in the same guarded update (a correction's
        address, say).
    :raises InvalidTransition: the event does not apply to the current status.
    :raises Forbidden: the principal's role may not cause this transition.
    :raises Conflict: ``expected_version`` is stale, or someone changed the application
        since it was read. Nothing is changed when any of these is raised.
    """
    application = case.application
    # A stale read is reported first: the caller judged a state that no longer exists, so
    # "refresh" is the answer, not a guard failure on a state the caller never saw.
    if expected_version is not None and application.version != expected_version:
        raise Conflict()
    row = _allowed(application.status, event, principal)
    since, first_record = application.updated_at, application.case_seq + 1
    values = {
        **(changes or {}),
        "status": row.target,
        "version": application.version + 1,
        "case_seq": application.case_seq + len(casesync.kinds_for(row.source, row.target)),
        "updated_at": uow.now,
    }
    if changes:
        statement = (
            sa.update(Application)
            .where(col(Application.id) == case.id, col(Application.version) == application.version)
            .values(**values)
        )
        matched = execute(uow.session, statement)
    else:
        parameters = {f"p_{key}": value for key, value in values.items()}
        parameters |= {"p_id": case.id, "p_seen": application.version}
        matched = execute(uow.session, _advance(), parameters)
    if matched != 1:
        raise Conflict()
    for key, value in values.items():
        # The row already holds these values: record them as loaded, not as changes the
        # session would write again (unguarded) at the next flush.
        set_committed_value(application, key, value)
    _effects(uow, case, row, principal, comment, since=since, first_record=first_record)
    return row


def _allowed(status: Status, event: Event, principal: Principal) -> Transition:
    row = transition_for(status, event)
    actor = ROLE_ACTOR.get(principal.role)
    if actor is None or actor not in row.actors:
        raise Forbidden(f"当前角色不能执行“{EVENT_LABELS[event]}”")
    return row


def _effects(
    uow: UnitOfWork,
    case: Case,
    row: Transition,
    principal: Principal,
    comment: str,
    *,
    since: datetime,
    first_record: int,
) -> None:
    application = case.application
    uow.audit(
        AuditEntry(
            actor=principal.id,
            role=principal.role.value,
            action=f"application.{row.event.value}",
            entity="application",
            entity_id=application.receipt_no,
            data={
                "from": row.source.value,
                "to": row.target.value,
                "version": application.version,
                "comment": comment,
            },
            at=uow.now,
        )
    )
    casesync.record_step(
        uow,
        case,
        source=row.source,
        event=row.event.value,
        event_label=EVENT_LABELS[row.event],
        principal=principal,
        comment=comment,
        since=since,
        first_version=first_record,
    )
    notify.queue_for_status(uow, case)
    if row.target is Status.SUBMITTED:
        uow.enqueue(
            "verification.run",
            {"application_id": case.id},
            key=f"verify:{case.id}:v{application.version}",
        )
