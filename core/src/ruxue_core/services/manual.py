"""Manual verification (人工核验 / 线下审核): when shared data could not decide a fact, a
reviewer in scope checks the originals and records which facts they confirmed from which
paper. In ``manual_review`` the outcome moves the application on as the lifecycle and the
season's review route say (confirmed → the first review step; return → correction; reject).
Later, while materials are still outstanding at a review step, a confirmation records the
papers (the materials stop being outstanding) without changing the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ruxue_core import routing
from ruxue_core.audit import AuditEntry
from ruxue_core.domain import ManualVerification, Review
from ruxue_core.domain.enums import ReviewDecision, Status
from ruxue_core.errors import Conflict, InvalidInput, InvalidTransition
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.permissions import require_role, visible
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_text
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import MAX_COMMENT, REVIEWER_ROLES
from ruxue_core.services.materials import outstanding_after, provided_kinds, record_originals
from ruxue_core.services.views import MaterialNeeded, material_names
from ruxue_core.uow import UnitOfWork

MAX_CONFIRMATIONS: Final = 20
LATER_STEPS: Final = (Status.SCHOOL_REVIEW, Status.BUREAU_REVIEW, Status.APPROVED)
"""Steps at which outstanding materials may still be confirmed from originals."""


class ManualFact(StrEnum):
    """A fact a reviewer can confirm from an original paper."""

    CHILD_IDENTITY = "child_identity"
    GUARDIAN_IDENTITY = "guardian_identity"
    RELATIONSHIP = "relationship"
    HUKOU = "hukou"
    PROPERTY = "property"
    RESIDENCE_PERMIT = "residence_permit"
    SOCIAL_INSURANCE = "social_insurance"
    ADDRESS = "address"
    AGE = "age"


MANUAL_FACT_LABELS: Final[dict[ManualFact, str]] = {
    ManualFact.CHILD_IDENTITY: "儿童身份",
    ManualFact.GUARDIAN_IDENTITY: "监护人身份",
    ManualFact.RELATIONSHIP: "监护关系",
    ManualFact.HUKOU: "户籍",
    ManualFact.PROPERTY: "房产",
    ManualFact.RESIDENCE_PERMIT: "居住证",
    ManualFact.SOCIAL_INSURANCE: "社保",
    ManualFact.ADDRESS: "实际居住地址",
    ManualFact.AGE: "年龄（缓学/提前入学）",
}


class ManualOutcome(StrEnum):
    """What the reviewer concluded from the originals."""

    CONFIRMED = "confirmed"
    RETURN = "return"  # the family must correct the form (退回补正)
    REJECT = "reject"


_DECISIONS: Final = {
    ManualOutcome.CONFIRMED: ReviewDecision.APPROVE,
    ManualOutcome.RETURN: ReviewDecision.RETURN,
    ManualOutcome.REJECT: ReviewDecision.REJECT,
}


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One fact confirmed from one original (a material code of the season)."""

    fact: ManualFact
    paper: str


@dataclass(frozen=True, slots=True)
class RecordManualVerification:
    """Command: the outcome of checking an application's originals."""

    application_id: int
    outcome: ManualOutcome
    confirmations: tuple[Confirmation, ...] = ()
    comment: str = ""
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class ManualVerified:
    """The application's status and version afterwards, and what is still outstanding."""

    application_id: int
    receipt_no: str
    status: Status
    version: int
    outstanding: tuple[MaterialNeeded, ...]


def _check(command: RecordManualVerification) -> None:
    message = f"核验意见不超过{MAX_COMMENT}字，且不能含控制字符"
    validate_text(command.comment, field="comment", max_length=MAX_COMMENT, message=message)
    if len(command.confirmations) > MAX_CONFIRMATIONS:
        raise InvalidInput("核验事项过多", field="confirmations")
    if command.outcome is ManualOutcome.CONFIRMED and not command.confirmations:
        raise InvalidInput("核验通过须登记核验了哪些事项、依据哪份原件", field="confirmations")


async def record_manual_verification(
    rt: Runtime, command: RecordManualVerification, principal: Principal | None
) -> ManualVerified:
    """Record a manual verification and move the application on.

    :raises Forbidden: not a reviewer, or a role the lifecycle does not let decide this step.
    :raises NotFound: no such application in the reviewer's scope (alike).
    :raises InvalidInput: a malformed comment or a paper that is not one of the season's
        materials.
    :raises InvalidTransition: nothing to verify manually in the current status.
    :raises Conflict: ``expected_version`` is stale.
    """
    actor = require_role(principal, *REVIEWER_ROLES)
    _check(command)

    def record(uow: UnitOfWork) -> ManualVerified:
        case = visible(
            actor, load_case(uow, command.application_id), uow.cipher, field="applicationId"
        )
        names = material_names(case.season.policy)
        papers = tuple(dict.fromkeys(c.paper for c in command.confirmations))
        unknown = sorted(set(papers) - set(names))
        if unknown:
            message = f"不是本招生季的材料：{'、'.join(unknown)}"
            raise InvalidInput(message, field="confirmations")
        status = case.application.status
        known = set(provided_kinds(uow, case))
        if status is Status.MANUAL_REVIEW:
            event = {
                ManualOutcome.CONFIRMED: routing.after_manual_confirmation(
                    routing.route_of(case.season.policy), has_school=case.school is not None
                ),
                ManualOutcome.RETURN: Event.RETURN,
                ManualOutcome.REJECT: Event.REJECT,
            }[command.outcome]
            apply_event(
                uow,
                case,
                event,
                actor,
                comment=command.comment,
                expected_version=command.expected_version,
            )
            uow.insert_at_commit(
                Review(
                    application_id=case.id,
                    step=status,
                    decision=_DECISIONS[command.outcome],
                    comment=command.comment,
                    reviewer=actor.id,
                    at=uow.now,
                )
            )
        elif (
            status in LATER_STEPS
            and command.outcome is ManualOutcome.CONFIRMED
            and outstanding_after(uow, case, known, names)
        ):
            expected = command.expected_version
            if expected is not None and expected != case.application.version:
                raise Conflict()
        else:
            raise InvalidTransition("申请当前没有需要人工核验的事项")
        record_originals(uow, case, actor, papers, known=known)
        confirmations = [{"fact": c.fact.value, "paper": c.paper} for c in command.confirmations]
        uow.insert_at_commit(
            ManualVerification(
                application_id=case.id,
                outcome=command.outcome.value,
                confirmations=confirmations,
                comment=command.comment,
                reviewer=actor.id[:128],
                at=uow.now,
            )
        )
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "application.manual_verification",
                "application",
                case.application.receipt_no,
                {"outcome": command.outcome.value, "confirmations": confirmations},
                at=uow.now,
            )
        )
        outstanding = outstanding_after(uow, case, known | set(papers), names)
        uow.commit()
        application = case.application
        return ManualVerified(
            case.id, application.receipt_no, application.status, application.version, outstanding
        )

    return await rt.write(record)
