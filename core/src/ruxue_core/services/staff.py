"""Staff account use cases: sign in and out, and the administrator's add, disable and reset.

Passwords are stored as argon2id hashes. Repeated failures lock an account for a while; an
unknown account, a wrong password and a disabled or locked account all answer the same
``InvalidCredentials``, in about the same time. A session is a short-lived signed token;
signing out, disabling or resetting an account ends all its sessions (its epoch moves on).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ruxue_core import staff
from ruxue_core.audit import AuditEntry
from ruxue_core.db import execute
from ruxue_core.domain import Region, School, StaffAccount
from ruxue_core.domain.enums import Role
from ruxue_core.domain.types import UTCDateTime, utcnow
from ruxue_core.errors import Duplicate, Forbidden, InvalidCredentials, InvalidInput, NotFound
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_name
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork

MIN_PASSWORD: Final = 12
MAX_PASSWORD: Final = 128
USERNAME_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{2,63}$"


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A signed-in staff member's bearer token and its expiry."""

    token: str
    expires_at: datetime
    username: str
    name: str
    role: Role
    region_code: str | None
    school_code: str | None


async def sign_in(rt: Runtime, username: str, password: str) -> StaffSession:
    """Check a staff member's password and open a session.

    :raises InvalidCredentials: unknown, disabled or locked account, or wrong password.
    """
    username = username.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, username) or len(password) > MAX_PASSWORD:
        staff.password_matches(password[:MAX_PASSWORD], None)  # as long as a real check
        raise InvalidCredentials()
    account = await rt.read(lambda uow: _account(uow, username))
    matches = staff.password_matches(password, account.password_hash if account else None)
    if account is None or not account.active or _locked(account):
        raise InvalidCredentials()
    if not matches:
        await rt.write(lambda uow: _count_failure(uow, username))
        raise InvalidCredentials()
    scope = await rt.write(lambda uow: _signed_in(uow, username))
    if scope is None:
        raise InvalidCredentials()
    token, expires_at = staff.issue_session(rt.settings, scope)
    return StaffSession(
        token,
        expires_at,
        scope.username,
        scope.name,
        scope.role,
        scope.region_code,
        scope.school_code,
    )


def _locked(account: StaffAccount) -> bool:
    return account.locked_until is not None and account.locked_until > utcnow()


def _account(uow: UnitOfWork, username: str) -> StaffAccount | None:
    return uow.session.exec(
        select(StaffAccount).where(col(StaffAccount.username) == username)
    ).first()


def _count_failure(uow: UnitOfWork, username: str) -> None:
    policy = uow.settings.staff_auth
    failures = col(StaffAccount.failed_logins)
    locked = failures + 1 >= policy.max_failed_logins
    until = sa.literal(uow.now + timedelta(minutes=policy.lockout_minutes), UTCDateTime())
    uow.session.execute(
        sa.update(StaffAccount)
        .where(col(StaffAccount.username) == username)
        .values(
            failed_logins=sa.case((locked, 0), else_=failures + 1),
            locked_until=sa.case((locked, until), else_=col(StaffAccount.locked_until)),
        )
    )
    uow.audit(
        AuditEntry(
            f"staff:{username}", "anonymous", "staff.sign_in_failed", "staff", username, at=uow.now
        )
    )
    uow.commit()


def _signed_in(uow: UnitOfWork, username: str) -> staff.StaffScope | None:
    uow.session.execute(
        sa.update(StaffAccount)
        .where(col(StaffAccount.username) == username)
        .values(failed_logins=0, locked_until=None)
    )
    scope = staff.load_scope(uow, username)
    if scope is not None:
        uow.audit(
            AuditEntry(
                f"staff:{username}",
                scope.role.value,
                "staff.sign_in",
                "staff",
                username,
                at=uow.now,
            )
        )
    uow.commit()
    return scope


async def sign_out(rt: Runtime, principal: Principal | None) -> None:
    """End every session of the signed-in staff member.

    :raises Forbidden: not signed in with a staff account (a password session).
    """
    actor = require_role(principal, *staff.STAFF_ROLES)
    if actor.provider != staff.PROVIDER:
        raise Forbidden("仅工作人员账号登录的会话可以退出")
    username = actor.id.removeprefix("staff:")
    await rt.write(lambda uow: _bump_epoch(uow, actor, username, "staff.sign_out", {}))
    rt.staff.forget(username)


@dataclass(frozen=True, slots=True)
class AddStaff:
    """Command: create a staff account with its role and scope."""

    username: str
    name: str
    role: Role
    password: str
    region_code: str | None = None
    school_code: str | None = None


def validate_password(password: str) -> str:
    """A password of 12 to 128 characters.

    :raises InvalidInput: too short or too long.
    """
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"密码长度须为{MIN_PASSWORD}至{MAX_PASSWORD}个字符", field="password")
    return password


async def add_staff(rt: Runtime, command: AddStaff, principal: Principal | None) -> None:
    """Create a staff account (admins, and the command line as the system).

    Counter staff need a township, school reviewers a school; no other role has a scope.

    :raises Forbidden: not an admin. :raises InvalidInput: a field is wrong.
    :raises Duplicate: the username is taken.
    """
    actor = require_role(principal, Role.ADMIN, Role.SYSTEM)
    username = command.username.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise InvalidInput("用户名须为3至64位小写字母、数字或 . _ -", field="username")
    if command.role not in staff.STAFF_ROLES:
        raise InvalidInput("该角色不是工作人员角色", field="role")
    name = validate_name(command.name, field="name")
    password_hash = staff.hash_password(validate_password(command.password))
    needs = {Role.COUNTER_STAFF: "region_code", Role.SCHOOL_REVIEWER: "school_code"}
    for role, attribute in needs.items():
        given = getattr(command, attribute)
        if (command.role is role) != (given is not None):
            raise InvalidInput(
                "窗口人员须指定乡镇，学校审核员须指定学校，其他角色都不指定", field=attribute
            )

    def add(uow: UnitOfWork) -> None:
        region_id = school_id = None
        if command.region_code is not None:
            region_id = uow.session.exec(
                select(Region.id).where(
                    col(Region.code) == command.region_code, col(Region.level) == "township"
                )
            ).first()
            if region_id is None:
                raise InvalidInput("乡镇（街道）不存在", field="region_code")
        if command.school_code is not None:
            school_id = uow.session.exec(
                select(School.id).where(col(School.code) == command.school_code)
            ).first()
            if school_id is None:
                raise InvalidInput("学校不存在", field="school_code")
        uow.session.add(
            StaffAccount(
                username=username,
                name=name,
                role=command.role,
                region_id=region_id,
                school_id=school_id,
                password_hash=password_hash,
                created_at=uow.now,
            )
        )
        try:
            uow.session.flush()
        except IntegrityError:
            raise Duplicate("用户名已存在", field="username") from None
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "staff.add",
                "staff",
                username,
                {"role": command.role.value},
                at=uow.now,
            )
        )
        uow.commit()

    await rt.write(add)


async def disable_staff(rt: Runtime, username: str, principal: Principal | None) -> None:
    """Disable an account and end its sessions.

    :raises Forbidden: not an admin. :raises NotFound: no such account.
    """
    actor = require_role(principal, Role.ADMIN, Role.SYSTEM)
    username = username.strip().lower()
    await rt.write(
        lambda uow: _bump_epoch(uow, actor, username, "staff.disable", {"active": False})
    )
    rt.staff.forget(username)


async def reset_password(rt: Runtime, username: str, principal: Principal | None) -> str:
    """Give an account a new random password, unlock it and end its sessions; returns the
    password to hand over (shown once, never stored in clear).

    :raises Forbidden: not an admin. :raises NotFound: no such account.
    """
    actor = require_role(principal, Role.ADMIN, Role.SYSTEM)
    username = username.strip().lower()
    password = secrets.token_urlsafe(12)
    changes = {
        "password_hash": staff.hash_password(password),
        "failed_logins": 0,
        "locked_until": None,
        "active": True,
    }
    await rt.write(lambda uow: _bump_epoch(uow, actor, username, "staff.reset", changes))
    rt.staff.forget(username)
    return password


def _bump_epoch(
    uow: UnitOfWork, actor: Principal, username: str, action: str, changes: dict[str, object]
) -> None:
    statement = (
        sa.update(StaffAccount)
        .where(col(StaffAccount.username) == username)
        .values(session_epoch=col(StaffAccount.session_epoch) + 1, **changes)
    )
    if execute(uow.session, statement) != 1:
        raise NotFound("账号不存在", field="username")
    uow.audit(AuditEntry(actor.id, actor.role.value, action, "staff", username, at=uow.now))
    uow.commit()
