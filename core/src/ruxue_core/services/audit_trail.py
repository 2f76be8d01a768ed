"""One case's audit trail (``auditTrail(receiptNo)``): every audited step of an application,
oldest first, read from the tamper-evident log.

Auditors and bureau officers see the whole trail with who acted, each entry's details, its
position in the Merkle tree and its leaf hash (for ``ruxue audit prove``). A guardian sees the
steps of their own family's case only: what happened and when, by which role, never a staff
member's id. A case the caller may not see answers exactly like a missing one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Application, AuditEvent
from ruxue_core.domain.enums import ROLE_LABELS, STATUS_LABELS, Role, Status
from ruxue_core.errors import InvalidInput, NotFound
from ruxue_core.permissions import NOT_FOUND_MESSAGE, require_role, scope_clause
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork

RECEIPT_NO: Final = re.compile(r"[0-9A-Za-z-]{1,32}")
MAX_ENTRIES: Final = 1000
"""A case has tens of steps; the bound only keeps a reply finite."""
FULL_TRAIL_ROLES: Final = frozenset({Role.AUDITOR, Role.BUREAU_OFFICER})


@dataclass(frozen=True, slots=True)
class AuditStep:
    """One audited action on a case.

    :ivar actor: the acting principal's id (auditors and bureau officers only).
    :ivar details: the entry's data as canonical JSON (auditors and bureau officers only).
    :ivar position: the entry's leaf index in the Merkle tree, once sequenced.
    :ivar leaf_hash: the entry's RFC 6962 leaf hash (auditors and bureau officers only).
    """

    at: datetime
    action: str
    actor_role: str
    actor_role_label: str
    actor: str | None
    from_status: Status | None
    to_status: Status | None
    to_status_label: str | None
    comment: str | None
    details: str | None
    position: int | None
    leaf_hash: str | None


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """A case's audit trail, oldest first."""

    receipt_no: str
    steps: tuple[AuditStep, ...]


async def audit_trail(rt: Runtime, receipt_no: str, principal: Principal | None) -> AuditTrail:
    """The audit trail of the case with ``receipt_no`` (办件编号).

    :raises Forbidden: not an auditor, a bureau officer or a guardian.
    :raises InvalidInput: not a receipt number's shape.
    :raises NotFound: no such case, or not one the caller may see (alike).
    """
    actor = require_role(principal, Role.GUARDIAN, *FULL_TRAIL_ROLES)
    if not RECEIPT_NO.fullmatch(receipt_no):
        raise InvalidInput("办件编号格式不正确", field="receiptNo")
    return await rt.read(lambda uow: _trail(uow, receipt_no, actor))


def _trail(uow: UnitOfWork, receipt_no: str, actor: Principal) -> AuditTrail:
    case = uow.session.scalar(
        sa.select(col(Application.id)).where(
            col(Application.receipt_no) == receipt_no, scope_clause(actor, uow.cipher)
        )
    )
    if case is None:
        raise NotFound(NOT_FOUND_MESSAGE, field="receiptNo")
    events = uow.session.scalars(
        sa.select(AuditEvent)
        .where(col(AuditEvent.entity) == "application", col(AuditEvent.entity_id) == receipt_no)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
        .limit(MAX_ENTRIES)
    ).all()
    full = actor.role in FULL_TRAIL_ROLES
    return AuditTrail(receipt_no, tuple(_step(event, full=full) for event in events))


def _status(value: Any) -> Status | None:
    try:
        return Status(value)
    except ValueError:
        return None


def _step(event: AuditEvent, *, full: bool) -> AuditStep:
    data = event.data or {}
    target = _status(data.get("to"))
    comment = data.get("comment")
    role = _role_label(event.role)
    return AuditStep(
        at=event.at,
        action=event.action,
        actor_role=event.role,
        actor_role_label=role,
        actor=event.actor if full else None,
        from_status=_status(data.get("from")),
        to_status=target,
        to_status_label=STATUS_LABELS[target] if target is not None else None,
        comment=comment if isinstance(comment, str) and comment else None,
        details=json.dumps(data, ensure_ascii=False, sort_keys=True) if full else None,
        position=event.position,
        leaf_hash=event.leaf_hash if full else None,
    )


def _role_label(value: str) -> str:
    try:
        return ROLE_LABELS[Role(value)]
    except ValueError:
        return value
