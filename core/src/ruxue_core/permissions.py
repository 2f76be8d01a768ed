"""Who may see and do what. The policy lives here; the gateway only applies it."""

from __future__ import annotations

from ruxue_core.domain import Application, Guardian
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Forbidden
from ruxue_core.plugins.contracts import Principal

STAFF_ROLES = frozenset({Role.COUNTER_STAFF, Role.SCHOOL_REVIEWER, Role.BUREAU_OFFICER, Role.ADMIN})
DISTRICT_ROLES = frozenset({Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR})


def require_role(principal: Principal | None, *roles: Role) -> Principal:
    """The principal, if it holds one of ``roles``; otherwise ``Forbidden``."""
    if principal is None:
        raise Forbidden("请先登录")
    if principal.role not in roles:
        raise Forbidden()
    return principal


def can_see(
    principal: Principal,
    application: Application,
    guardian: Guardian,
    school_code: str | None = None,
) -> bool:
    """Guardians see their own applications; staff see those within their scope.

    :param school_code: the code of the school the application is placed or zoned at.
    """
    if principal.role is Role.GUARDIAN:
        return guardian.subject == principal.id
    if principal.role in DISTRICT_ROLES or principal.role is Role.SYSTEM:
        return True
    if principal.role is Role.COUNTER_STAFF:
        return principal.region_code is None or principal.region_code == application.township_code
    if principal.role is Role.SCHOOL_REVIEWER:
        return school_code is None or principal.school_code == school_code
    return False


def ensure_can_see(
    principal: Principal,
    application: Application,
    guardian: Guardian,
    school_code: str | None = None,
) -> None:
    """``Forbidden`` unless :func:`can_see`."""
    if not can_see(principal, application, guardian, school_code):
        raise Forbidden("无权查看该申请")
