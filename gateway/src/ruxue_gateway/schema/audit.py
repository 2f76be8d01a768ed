"""``auditTrail(receiptNo)``: a case's audited steps (auditors, bureau, the family itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ruxue_core.domain.enums import Status
from ruxue_core.services.audit_trail import AuditStep as CoreStep
from ruxue_core.services.audit_trail import audit_trail
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401
from ruxue_gateway.schema.errors import ForbiddenError, InvalidInputError, NotFoundError


@strawberry.type(description="One audited step of a case.")
class AuditStep:
    """``actor``, ``details`` and ``leafHash`` are shown to auditors and bureau officers only;
    ``position`` is the entry's leaf index in the Merkle tree once sequenced (for proofs)."""

    at: datetime
    action: str
    actor_role: str
    actor_role_label: str
    actor: str | None
    from_status: Status | None
    to_status: Status | None
    to_status_label: str | None
    comment: str | None
    details: str | None = strawberry.field(description="The entry's data, as JSON.")
    position: int | None
    leaf_hash: str | None

    @classmethod
    def from_core(cls, step: CoreStep) -> AuditStep:
        """Map the core's step."""
        return cls(
            at=step.at,
            action=step.action,
            actor_role=step.actor_role,
            actor_role_label=step.actor_role_label,
            actor=step.actor,
            from_status=step.from_status,
            to_status=step.to_status,
            to_status_label=step.to_status_label,
            comment=step.comment,
            details=step.details,
            position=step.position,
            leaf_hash=step.leaf_hash,
        )


@strawberry.type(description="A case's audit trail, oldest first.")
class AuditTrail:
    """Every audited step of the case with this receipt number."""

    receipt_no: str
    steps: list[AuditStep]


AuditTrailResult = Annotated[
    AuditTrail | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("AuditTrailResult"),
]


@strawberry.type
class AuditQueries:
    """The audit log, case by case."""

    @strawberry.field(description="办件审计记录 (auditors, bureau; a family: its own case).")
    async def audit_trail(
        self, info: strawberry.Info[Context, None], receipt_no: str
    ) -> AuditTrailResult:
        """A case's audited steps."""
        context = info.context
        trail = await audit_trail(context.runtime, receipt_no, context.principal)
        return AuditTrail(
            receipt_no=trail.receipt_no, steps=[AuditStep.from_core(s) for s in trail.steps]
        )
