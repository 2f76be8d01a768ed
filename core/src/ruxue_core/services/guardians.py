"""Guardians (监护人): who a login may act as, and changes to a guardian's contact details.

A guardian record is identified by its blind-indexed resident ID number. Online, a login
reaches a guardian record only when the identity provider verified that very number
(统一身份认证实名); the first such match binds the login and is audited. A submission never
overwrites another person's data: a different name is refused, and a changed phone number is
its own audited step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Guardian
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Forbidden, InvalidInput, NotFound
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_phone
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_phone
from ruxue_core.uow import LostRace, UnitOfWork

ENTITY: Final = "guardian"
_BY_INDEX: Final = select(Guardian).where(col(Guardian.id_number_idx) == sa.bindparam("index"))


@dataclass(frozen=True, slots=True)
class GuardianForm:
    """A guardian as the form gives it, validated."""

    name: str
    id_number: str
    phone: str


def check_online_identity(actor: Principal, form: GuardianForm) -> None:
    """An online guardian may apply only as the person their login verified.

    :raises Forbidden: the login carries no verified real-name ID number.
    :raises InvalidInput: the form names another person.
    """
    if actor.role is not Role.GUARDIAN:
        return
    if not actor.verified_id_number:
        raise Forbidden("请使用实名认证的账号登录后再报名")
    if actor.verified_id_number != form.id_number:
        raise InvalidInput("监护人身份证号码须为登录人本人的号码", field="guardian.idNumber")
    if actor.name and actor.name != form.name:
        raise InvalidInput("监护人姓名须与实名认证的姓名一致", field="guardian.name")


def _entity_id(guardian: Guardian) -> str:
    return f"guardian:{guardian.id}"


def find_or_create(uow: UnitOfWork, form: GuardianForm, actor: Principal) -> Guardian:
    """The guardian ``form`` names: found by blind index (binding an online login the first
    time, changing the phone as an audited step) or created."""
    cipher = uow.cipher
    index = cipher.blind_index(form.id_number, purpose="guardian.id_number")
    guardian = uow.session.exec(_BY_INDEX, params={"index": index}).first()
    if guardian is None:
        guardian = Guardian(
            name=form.name,
            id_number_ct=cipher.encrypt(form.id_number, purpose="guardian.id_number"),
            id_number_idx=index,
            phone_ct=cipher.encrypt(form.phone, purpose="guardian.phone"),
            phone_idx=cipher.blind_index(form.phone, purpose="guardian.phone"),
            subject=actor.id if actor.role is Role.GUARDIAN else None,
            bound_at=uow.now if actor.role is Role.GUARDIAN else None,
        )
        if uow.insert_now(guardian, unless_exists="id_number_idx") is None:
            raise LostRace()  # the same guardian's other child, submitted at this moment
        _audit(uow, actor, guardian, "guardian.create", {"channel": _channel(actor)})
        return guardian
    if guardian.name != form.name:
        raise InvalidInput("监护人姓名与已登记的信息不一致", field="guardian.name")
    changes: dict[str, object] = {}
    if actor.role is Role.GUARDIAN and guardian.bound_at is None:
        changes |= {"subject": actor.id, "bound_at": uow.now}
        _audit(uow, actor, guardian, "guardian.bind", {"provider": actor.provider})
    if not cipher.matches(form.phone, guardian.phone_idx, purpose="guardian.phone"):
        changes |= _phone_columns(uow, form.phone)
        _audit(uow, actor, guardian, "guardian.phone_change", {"phone": mask_phone(form.phone)})
    if changes:
        _update(uow, guardian, changes)
    return guardian


def record_paper(
    uow: UnitOfWork, actor: Principal, receipt_no: str, paper_seen: tuple[str, ...]
) -> None:
    """Audit the originals counter staff checked for an application (只跑一次)."""
    uow.audit(
        AuditEntry(
            actor.id,
            actor.role.value,
            "application.paper_seen",
            "application",
            receipt_no,
            {"paper_seen": list(paper_seen)},
            at=uow.now,
        )
    )


@dataclass(frozen=True, slots=True)
class ChangeGuardianPhone:
    """Command: a guardian changes their own mobile number."""

    phone: str


async def change_guardian_phone(
    rt: Runtime, command: ChangeGuardianPhone, principal: Principal | None
) -> str:
    """Change the signed-in guardian's phone (audited); returns the new number, masked.

    :raises Forbidden: not a guardian with a verified identity.
    :raises InvalidInput: not a mainland mobile number.
    :raises NotFound: the guardian has not applied yet (no record to change).
    """
    actor = require_role(principal, Role.GUARDIAN)
    if not actor.verified_id_number:
        raise Forbidden("请使用实名认证的账号登录")
    phone = validate_phone(command.phone, field="phone")
    verified = actor.verified_id_number

    def change(uow: UnitOfWork) -> str:
        index = uow.cipher.blind_index(verified, purpose="guardian.id_number")
        guardian = uow.session.exec(
            select(Guardian).where(col(Guardian.id_number_idx) == index)
        ).first()
        if guardian is None:
            raise NotFound("尚无报名记录", field="phone")
        _update(uow, guardian, _phone_columns(uow, phone))
        _audit(uow, actor, guardian, "guardian.phone_change", {"phone": mask_phone(phone)})
        uow.commit()
        return mask_phone(phone)

    return await rt.write(change)


def _phone_columns(uow: UnitOfWork, phone: str) -> dict[str, object]:
    return {
        "phone_ct": uow.cipher.encrypt(phone, purpose="guardian.phone"),
        "phone_idx": uow.cipher.blind_index(phone, purpose="guardian.phone"),
    }


def _update(uow: UnitOfWork, guardian: Guardian, changes: dict[str, object]) -> None:
    uow.session.execute(
        sa.update(Guardian)
        .where(col(Guardian.id) == guardian.id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    for key, value in changes.items():
        set_committed_value(guardian, key, value)  # already written: no second UPDATE at flush


def _audit(
    uow: UnitOfWork, actor: Principal, guardian: Guardian, action: str, data: dict[str, object]
) -> None:
    uow.audit(
        AuditEntry(
            actor.id, actor.role.value, action, ENTITY, _entity_id(guardian), dict(data), at=uow.now
        )
    )


def _channel(actor: Principal) -> str:
    return "online" if actor.role is Role.GUARDIAN else "counter"


def bind_login(uow: UnitOfWork, actor: Principal) -> None:
    """At sign-in, bind a verified login to the guardian record with its ID number (if one
    exists and is not bound yet); audited like the binding at a first submission."""
    if actor.role is not Role.GUARDIAN or not actor.verified_id_number:
        return
    index = uow.cipher.blind_index(actor.verified_id_number, purpose="guardian.id_number")
    bound = uow.session.execute(
        sa.update(Guardian)
        .where(col(Guardian.id_number_idx) == index, col(Guardian.bound_at).is_(None))
        .values(subject=actor.id, bound_at=uow.now)
        .returning(col(Guardian.id))
        .execution_options(synchronize_session=False)
    ).first()
    if bound is not None:
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "guardian.bind",
                ENTITY,
                f"guardian:{bound[0]}",
                {"provider": actor.provider},
                at=uow.now,
            )
        )
