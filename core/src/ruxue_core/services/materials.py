"""Paper at the counter: staff record the originals they saw (the materials verification
still needed) and, when the family signed the consent form (授权核对) on paper, that consent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Assessment, Consent, Material
from ruxue_core.domain.enums import Channel, Role
from ruxue_core.errors import InvalidInput, InvalidTransition
from ruxue_core.lifecycle import TERMINAL, Case, load_case
from ruxue_core.permissions import require_role, visible
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import CONSENT_STATEMENT
from ruxue_core.services.views import MaterialNeeded, material_names, still_needed
from ruxue_core.uow import UnitOfWork

PAPER_CONTENT_TYPE: Final = "application/x-paper-original"
"""A material row for an original seen at the counter (no file is stored)."""


@dataclass(frozen=True, slots=True)
class RecordPaperSeen:
    """Command: counter staff saw these originals (material codes of the season) and, if
    ``consent``, the family's signed consent form."""

    application_id: int
    materials: tuple[str, ...] = ()
    consent: bool = False


@dataclass(frozen=True, slots=True)
class PaperRecorded:
    """The materials still outstanding afterwards, and the consent on record."""

    application_id: int
    outstanding: tuple[MaterialNeeded, ...]
    consent_ref: str | None


async def record_paper_seen(
    rt: Runtime, command: RecordPaperSeen, principal: Principal | None
) -> PaperRecorded:
    """Record originals seen (and a paper consent) for an application in the staff's township.

    :raises Forbidden: not counter staff.
    :raises NotFound: no such application in the staff's township (alike).
    :raises InvalidInput: a code that is not one of the season's materials.
    :raises InvalidTransition: the application is closed.
    """
    actor = require_role(principal, Role.COUNTER_STAFF)
    if len(command.materials) > 20:
        raise InvalidInput("材料清单过长", field="materials")

    def record(uow: UnitOfWork) -> PaperRecorded:
        case = visible(
            actor, load_case(uow, command.application_id), uow.cipher, field="applicationId"
        )
        if case.application.status in TERMINAL:
            raise InvalidTransition("申请已办结，不能再登记材料")
        names = material_names(case.season.policy)
        unknown = sorted(set(command.materials) - set(names))
        if unknown:
            raise InvalidInput(f"不是本招生季的材料：{'、'.join(unknown)}", field="materials")
        seen = set(provided_kinds(uow, case))
        record_originals(uow, case, actor, command.materials, known=seen)
        consent_ref = _consent(uow, case, actor, wanted=command.consent)
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "application.paper_seen",
                "application",
                case.application.receipt_no,
                {"materials": list(command.materials), "consent": command.consent},
                at=uow.now,
            )
        )
        outstanding = outstanding_after(uow, case, seen | set(command.materials), names)
        uow.commit()
        return PaperRecorded(case.id, outstanding, consent_ref)

    return await rt.write(record)


def record_originals(
    uow: UnitOfWork,
    case: Case,
    actor: Principal,
    codes: tuple[str, ...],
    *,
    known: set[str] | None = None,
) -> None:
    """Add a material row for each original seen at the counter, unless one of its kind is
    on record already (``known``: the kinds on record; none for a new application)."""
    for code in dict.fromkeys(codes):
        if known is None or code not in known:
            uow.insert_at_commit(_paper(case, code, actor, uow))


def _paper(case: Case, code: str, actor: Principal, uow: UnitOfWork) -> Material:
    return Material(
        application_id=case.id,
        kind=code,
        filename="原件（窗口核验）",
        content_type=PAPER_CONTENT_TYPE,
        size=0,
        sha256="",
        storage_key=f"paper:{actor.id}"[:200],
        uploaded_at=uow.now,
        uploaded_by=actor.id[:128],
    )


def provided_kinds(uow: UnitOfWork, case: Case) -> list[str]:
    """The material kinds on record for an application (uploaded or seen at the counter)."""
    return list(
        uow.session.exec(select(Material.kind).where(col(Material.application_id) == case.id))
    )


def _consent(uow: UnitOfWork, case: Case, actor: Principal, *, wanted: bool) -> str | None:
    ref = uow.session.exec(
        select(Consent.ref).where(col(Consent.application_id) == case.id)
    ).first()
    if ref is not None or not wanted:
        return ref
    consent = Consent(
        application_id=case.id,
        ref=uuid.uuid4().hex,
        subjects="child,guardian",
        statement=CONSENT_STATEMENT,
        channel=Channel.COUNTER,
        recorded_by=actor.id,
        given_at=uow.now,
    )
    uow.insert_at_commit(consent)
    return consent.ref


def requested_codes(uow: UnitOfWork, case: Case) -> list[str]:
    """The material codes the application's latest assessment asks for (none before one)."""
    latest = uow.session.exec(
        select(Assessment.materials)
        .where(col(Assessment.application_id) == case.id)
        .order_by(col(Assessment.round).desc())
        .limit(1)
    ).first()
    return list(latest or [])


def outstanding_after(
    uow: UnitOfWork, case: Case, provided: set[str], names: dict[str, str] | None = None
) -> tuple[MaterialNeeded, ...]:
    """The requested materials not among ``provided``, named from the season."""
    names = material_names(case.season.policy) if names is None else names
    requested = (MaterialNeeded(code, names.get(code, code)) for code in requested_codes(uow, case))
    return still_needed(requested, provided)
