"""Who the signed-in user is, as the system knows them (``me``): role, scope and, for a
guardian, the guardian record their verified login reaches. Personal numbers leave masked."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Guardian, Region, School
from ruxue_core.domain.enums import ROLE_LABELS, Role
from ruxue_core.permissions import STAFF_ROLES, require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_id_number, mask_phone
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class GuardianProfile:
    """The guardian record a verified login reaches (after a first application)."""

    name: str
    id_number: str
    phone: str


@dataclass(frozen=True, slots=True)
class Profile:
    """The signed-in user: role and scope, with the names of their township and school.

    :ivar guardian: guardians who have applied: their record, masked; otherwise ``None``.
    """

    id: str
    role: Role
    role_label: str
    name: str
    township_code: str | None
    township_name: str | None
    school_code: str | None
    school_name: str | None
    guardian: GuardianProfile | None


async def my_profile(rt: Runtime, principal: Principal | None) -> Profile:
    """The signed-in user's profile (one read).

    :raises Forbidden: not signed in.
    """
    actor = require_role(principal, Role.GUARDIAN, *STAFF_ROLES)
    return await rt.read(lambda uow: _profile(uow, actor))


def _profile(uow: UnitOfWork, actor: Principal) -> Profile:
    township_name = school_name = None
    if actor.region_code is not None:
        township_name = uow.session.scalar(
            sa.select(col(Region.name)).where(col(Region.code) == actor.region_code)
        )
    if actor.school_code is not None:
        school_name = uow.session.scalar(
            sa.select(col(School.name)).where(col(School.code) == actor.school_code)
        )
    return Profile(
        id=actor.id,
        role=actor.role,
        role_label=ROLE_LABELS[actor.role],
        name=actor.name,
        township_code=actor.region_code,
        township_name=township_name,
        school_code=actor.school_code,
        school_name=school_name,
        guardian=_guardian(uow, actor),
    )


def _guardian(uow: UnitOfWork, actor: Principal) -> GuardianProfile | None:
    verified = actor.verified_id_number
    if actor.role is not Role.GUARDIAN or verified is None:
        return None
    index = uow.cipher.blind_index(verified, purpose="guardian.id_number")
    guardian = uow.session.scalar(sa.select(Guardian).where(col(Guardian.id_number_idx) == index))
    if guardian is None:
        return None
    return GuardianProfile(
        name=guardian.name,
        id_number=mask_id_number(verified),
        phone=mask_phone(uow.cipher.decrypt(guardian.phone_ct, purpose="guardian.phone")),
    )
