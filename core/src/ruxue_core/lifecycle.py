"""The application state machine: one explicit transition table and one function applying it.

Nothing else assigns ``Application.status``. Each transition, in the caller's transaction,
writes an audit entry, the provincial process record, the SMS the season's templates attach
to the new status, and any follow-up job (a submitted application gets verified).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ruxue_core import casesync, notify
from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Application
from ruxue_core.domain.enums import ROLE_ACTOR, STATUS_LABELS, Actor, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import Conflict, Forbidden, InvalidTransition
from ruxue_core.plugins.contracts import Principal
from ruxue_core.uow import UnitOfWork


class Event(StrEnum):
    """What happens to an application. Events are verbs."""

    SUBMIT = "submit"
    START_VERIFICATION = "start_verification"
    PASS_VERIFICATION = "pass_verification"  # noqa: S105 - an event name, not a secret
    FAIL_VERIFICATION = "fail_verification"
    REFER_TO_MANUAL = "refer_to_manual"
    CORRECT = "correct"
    CONFIRM_MANUALLY = "confirm_manually"
    APPROVE = "approve"
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
    Event.FAIL_VERIFICATION: "核验不合格",
    Event.REFER_TO_MANUAL: "转人工核验",
    Event.CORRECT: "补正后重新提交",
    Event.CONFIRM_MANUALLY: "人工核验通过",
    Event.APPROVE: "审核通过",
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


G, S, B, Y = Actor.GUARDIAN, Actor.STAFF, Actor.BUREAU, Actor.SYSTEM
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
    (Status.DRAFT, Event.SUBMIT, Status.SUBMITTED, frozenset({G, S})),
    (Status.SUBMITTED, Event.START_VERIFICATION, Status.VERIFYING, frozenset({Y})),
    (Status.VERIFYING, Event.PASS_VERIFICATION, Status.SCHOOL_REVIEW, frozenset({Y})),
    (Status.VERIFYING, Event.FAIL_VERIFICATION, Status.NEEDS_CORRECTION, frozenset({Y})),
    (Status.VERIFYING, Event.REFER_TO_MANUAL, Status.MANUAL_REVIEW, frozenset({Y})),
    (Status.NEEDS_CORRECTION, Event.CORRECT, Status.SUBMITTED, frozenset({G, S})),
    (Status.MANUAL_REVIEW, Event.CONFIRM_MANUALLY, Status.SCHOOL_REVIEW, frozenset({S, B})),
    (Status.MANUAL_REVIEW, Event.RETURN, Status.NEEDS_CORRECTION, frozenset({S, B})),
    (Status.MANUAL_REVIEW, Event.REJECT, Status.REJECTED, frozenset({S, B})),
    (Status.SCHOOL_REVIEW, Event.APPROVE, Status.BUREAU_REVIEW, frozenset({S})),
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
    *((status, Event.WITHDRAW, Status.WITHDRAWN, frozenset({G, S})) for status in _WITHDRAWABLE),
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


async def apply_event(
    uow: UnitOfWork,
    application: Application,
    event: Event,
    principal: Principal,
    *,
    comment: str = "",
    expected_version: int | None = None,
) -> Transition:
    """Apply ``event`` to ``application`` with every effect the transition causes.

    :raises InvalidTransition: the event does not apply to the current status.
    :raises Forbidden: the principal's role may not cause this transition.
    :raises Conflict: ``expected_version`` is stale (someone changed the application).
    Nothing is changed when any of these is raised.
    """
    # A stale read is reported first: the caller judged a state that no longer exists, so
    # "refresh" is the answer, not a guard failure on a state the caller never saw.
    if expected_version is not None and application.version != expected_version:
        raise Conflict()
    row = transition_for(application.status, event)
    actor = ROLE_ACTOR.get(principal.role)
    if actor is None or actor not in row.actors:
        raise Forbidden(f"当前角色不能执行“{EVENT_LABELS[event]}”")
    application.status = row.target
    application.updated_at = utcnow()
    uow.session.add(application)
    await uow.session.flush()  # bumps the version; a stale row raises here
    assert application.id is not None and application.version is not None
    uow.audit(
        AuditEntry(
            actor=principal.id,
            role=principal.role.value,
            action=f"application.{event.value}",
            entity="application",
            entity_id=application.receipt_no,
            data={
                "from": row.source.value,
                "to": row.target.value,
                "version": application.version,
                "comment": comment,
            },
        )
    )
    await casesync.record_step(uow, application, row.source, event.value, principal, comment)
    await notify.queue_for_status(uow, application)
    if row.target is Status.SUBMITTED:
        await uow.enqueue(
            "verification.run",
            {"application_id": application.id},
            key=f"verify:{application.id}:v{application.version}",
        )
    return row
