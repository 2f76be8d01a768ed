"""Who may see and do what: the one permission policy. The gateway only applies it.

Every application carries its scope: the family (its guardian's blind-indexed ID number), its
township and, once known, its school. A principal sees an application when its role's scope
covers it; a scope the principal lacks, or the application lacks, denies. Whether a role may
cause a status change is the transition table's business (:mod:`ruxue_core.lifecycle`).
Not-yours and not-found answer alike, so no one learns that someone else's record exists.

The rule exists in two forms side by side, one per role: :func:`can_see` over a loaded case and
:func:`scope_clause` as a SQL predicate over ``application`` rows, so that a list can never show
what a lookup by id would hide (a test checks that the two agree).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Application, Guardian, School
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Forbidden, NotFound
from ruxue_core.lifecycle import Case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.security import PiiCipher

DISTRICT_ROLES: Final = frozenset({Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR, Role.SYSTEM})
STAFF_ROLES: Final = frozenset(
    {Role.COUNTER_STAFF, Role.SCHOOL_REVIEWER, Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR}
)
NOT_FOUND_MESSAGE: Final = "申请不存在或无权查看"


def require_role(principal: Principal | None, *roles: Role) -> Principal:
    """The principal, if it holds one of ``roles``; otherwise ``Forbidden``."""
    if principal is None:
        raise Forbidden("请先登录")
    if principal.role not in roles:
        raise Forbidden()
    return principal


def is_own_family(principal: Principal, guardian_index: str, cipher: PiiCipher) -> bool:
    """Whether ``principal`` is the guardian whose blind-indexed ID number is given."""
    verified = principal.verified_id_number
    return (
        principal.role is Role.GUARDIAN
        and verified is not None
        and cipher.matches(verified, guardian_index, purpose="guardian.id_number")
    )


def can_see(principal: Principal, case: Case, cipher: PiiCipher) -> bool:
    """Guardians see their own family's applications; staff those within their scope."""
    role = principal.role
    if role is Role.GUARDIAN:
        return is_own_family(principal, case.guardian.id_number_idx, cipher)
    if role in DISTRICT_ROLES:
        return True
    if role is Role.COUNTER_STAFF:
        township = case.application.township_code
        return principal.region_code is not None and principal.region_code == township
    if role is Role.SCHOOL_REVIEWER:
        school = case.school.code if case.school is not None else None
        return principal.school_code is not None and principal.school_code == school
    return False


def scope_clause(principal: Principal, cipher: PiiCipher) -> sa.ColumnElement[bool]:
    """:func:`can_see` as a SQL predicate over ``application`` rows (no join needed).

    Guardians: the applications of the guardian record their verified ID number indexes;
    district roles: all; counter staff: their township's; school reviewers: those assigned to
    their school. Any other principal, or one lacking its role's scope, matches nothing.
    """
    role = principal.role
    if role is Role.GUARDIAN:
        verified = principal.verified_id_number
        if verified is None:
            return sa.false()
        index = cipher.blind_index(verified, purpose="guardian.id_number")
        family = sa.select(col(Guardian.id)).where(col(Guardian.id_number_idx) == index)
        return col(Application.guardian_id).in_(family.scalar_subquery())
    if role in DISTRICT_ROLES:
        return sa.true()
    if role is Role.COUNTER_STAFF:
        if principal.region_code is None:
            return sa.false()
        return col(Application.township_code) == principal.region_code
    if role is Role.SCHOOL_REVIEWER:
        if principal.school_code is None:
            return sa.false()
        school = sa.select(col(School.id)).where(col(School.code) == principal.school_code)
        return col(Application.school_id).in_(school.scalar_subquery())
    return sa.false()


def visible(principal: Principal, case: Case | None, cipher: PiiCipher, *, field: str) -> Case:
    """``case`` if the principal may see it; otherwise the same ``NotFound`` as a missing one."""
    if case is None or not can_see(principal, case, cipher):
        raise NotFound(NOT_FOUND_MESSAGE, field=field)
    return case
