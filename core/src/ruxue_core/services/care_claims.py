"""Policy-care claims (政策性照顾): the season's care categories, a guardian's declaration of
one while registration is open, and the bureau's decision. Placement ranks confirmed claims
first for their kind's reserved seats (see ``[placement.quotas]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import CareClaim, Season
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Ineligible, InvalidTransition, NotFound
from ruxue_core.lifecycle import Case, load_case
from ruxue_core.permissions import require_role, visible
from ruxue_core.phases import Phase, require_phase
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_code
from ruxue_core.runtime import Runtime
from ruxue_core.services.lottery_draws import PLACEMENT_ROLES
from ruxue_core.services.private_choice import OPEN_STATUSES
from ruxue_core.uow import UnitOfWork

DECLARED: Final = "declared"
CONFIRMED: Final = "confirmed"
REJECTED: Final = "rejected"


@dataclass(frozen=True, slots=True)
class CareCategory:
    """A care kind the season reserves seats for."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class CareClaimView:
    """An application's claim after a change."""

    application_id: int
    kind: str
    status: str


def categories_of(season: Season) -> tuple[CareCategory, ...]:
    """The season's care kinds, in file order."""
    return tuple(CareCategory(q.kind, q.name) for q in PlacementPolicy.of(season.policy).quotas)


async def care_categories(rt: Runtime, season_code: str) -> tuple[CareCategory, ...]:
    """The care categories a season offers (anyone may read them).

    :raises InvalidInput: a malformed code. :raises NotFound: no such season.
    """
    validate_code(season_code, field="seasonCode", message="招生季代码格式不正确")

    def read(uow: UnitOfWork) -> tuple[CareCategory, ...]:
        season = uow.session.exec(select(Season).where(col(Season.code) == season_code)).first()
        if season is None:
            raise NotFound("招生季不存在", field="seasonCode")
        return categories_of(season)

    return await rt.read(read)


def _claim(uow: UnitOfWork, case: Case) -> CareClaim | None:
    return uow.session.exec(select(CareClaim).where(CareClaim.application_id == case.id)).first()


def _audit(uow: UnitOfWork, actor: Principal, action: str, case: Case, claim: CareClaim) -> None:
    uow.audit(
        AuditEntry(
            actor.id,
            actor.role.value,
            action,
            "application",
            case.application.receipt_no,
            {"kind": claim.kind, "status": claim.status},
            at=uow.now,
        )
    )


async def declare_care(
    rt: Runtime, application_id: int, kind: str, principal: Principal | None
) -> CareClaimView:
    """The guardian (or counter staff for them) declares a care kind the season offers, while
    registration is open; declaring again replaces an undecided declaration.

    :raises Forbidden, NotFound: not the guardian / staff in scope, or no such application.
    :raises Ineligible: the season offers no such kind.
    :raises OutOfPhase: registration is not open.
    :raises InvalidTransition: already decided by the bureau, or the application is past
        placement.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    validate_code(kind, field="kind", message="照顾类别编码格式不正确")

    def declare(uow: UnitOfWork) -> CareClaimView:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        if kind not in {c.kind for c in categories_of(case.season)}:
            raise Ineligible(f"本招生季没有照顾类别 {kind}", field="kind")
        require_phase(case.season, Phase.REGISTRATION, uow.now, field="kind")
        if case.application.status not in OPEN_STATUSES:
            raise InvalidTransition("当前状态不能再申报政策性照顾", field="applicationId")
        claim = _claim(uow, case)
        if claim is not None and claim.status != DECLARED:
            raise InvalidTransition("政策性照顾已由教育局审核，不能再修改", field="kind")
        claim = claim or CareClaim(application_id=case.id, kind=kind, recorded_by=actor.id)
        claim.kind, claim.status, claim.recorded_by, claim.recorded_at = (
            kind,
            DECLARED,
            actor.id,
            uow.now,
        )
        uow.session.add(claim)
        _audit(uow, actor, "placement.care_declared", case, claim)
        uow.commit()
        return CareClaimView(case.id, claim.kind, claim.status)

    return await rt.write(declare)


async def decide_care(
    rt: Runtime, application_id: int, confirm: bool, principal: Principal | None
) -> CareClaimView:
    """The bureau confirms (placement then honours it) or rejects a declared claim.

    :raises Forbidden: not the bureau. :raises NotFound: no such application or no claim.
    :raises InvalidTransition: the claim was decided already.
    """
    actor = require_role(principal, *PLACEMENT_ROLES)

    def decide(uow: UnitOfWork) -> CareClaimView:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        claim = _claim(uow, case)
        if claim is None:
            raise NotFound("该申请没有申报政策性照顾", field="applicationId")
        if claim.status != DECLARED:
            raise InvalidTransition("该政策性照顾已审核", field="applicationId")
        claim.status = CONFIRMED if confirm else REJECTED
        claim.recorded_by, claim.recorded_at = actor.id, uow.now
        uow.session.add(claim)
        _audit(uow, actor, "placement.care_decided", case, claim)
        uow.commit()
        return CareClaimView(case.id, claim.kind, claim.status)

    return await rt.write(decide)
