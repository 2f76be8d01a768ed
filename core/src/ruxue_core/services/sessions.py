"""Guardians sign in through the province's unified identity (统一身份认证) and out again.

A login provider plugin vouches for the guardian (verified name, ID number, real-name level,
phone); :func:`open_guardian_session` checks that the login is good enough to act on, binds
it to the guardian record with that ID number (if the family has applied before) and opens a
short-lived Ruxue session. :func:`close_guardian_session` ends it at once, everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core import guardian_sessions
from ruxue_core.audit import AuditEntry
from ruxue_core.db import execute
from ruxue_core.domain import GuardianSession
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Forbidden, InvalidInput, NotFound
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_name, validate_phone
from ruxue_core.rules.national_id import parse_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services.guardians import bind_login
from ruxue_core.uow import UnitOfWork

ENTITY: Final = "guardian_login"
PURGE_AFTER: Final = timedelta(days=1)
"""Ended or expired sessions are deleted this long after they expire."""


@dataclass(frozen=True, slots=True)
class GuardianSignedIn:
    """A new guardian session: the bearer token and its expiry."""

    token: str
    expires_at: datetime
    provider: str
    assurance_level: int


def _checked(settings_level: int, principal: Principal | None) -> Principal:
    """The login if it is a guardian with a complete, good-enough real-name verification."""
    if principal is None or principal.role is not Role.GUARDIAN:
        raise Forbidden("登录未通过统一身份认证")
    if not principal.verified_id_number or not principal.name:
        raise Forbidden("登录账号未完成实名认证（缺少姓名或身份证号码）")
    try:
        parse_national_id(principal.verified_id_number, field="idNumber")
        validate_name(principal.name, field="name")
    except InvalidInput:
        raise Forbidden("统一身份认证返回的实名信息无效") from None
    if (principal.assurance_level or 0) < settings_level:
        raise Forbidden("实名认证等级不足，请先在政务服务网完成更高等级的实名认证")
    return principal


def _phone(principal: Principal) -> str | None:
    if not principal.verified_phone:
        return None
    try:
        return validate_phone(principal.verified_phone, field="phone")
    except InvalidInput:
        return None


async def open_guardian_session(
    rt: Runtime, provider: str, principal: Principal | None
) -> GuardianSignedIn:
    """Open a guardian session for a login ``provider`` vouched for.

    :raises Forbidden: not a guardian login, or its real-name verification is missing,
        malformed or below ``guardian_auth.min_assurance_level``.
    """
    settings = rt.settings.guardian_auth
    login = _checked(settings.min_assurance_level, principal)
    assert login.verified_id_number is not None and login.assurance_level is not None
    subject = f"{provider}:{login.id}"[:128]
    session_id = guardian_sessions.new_session_id()
    phone = _phone(login)

    def open_(uow: UnitOfWork) -> datetime:
        expires = uow.now + timedelta(minutes=settings.session_minutes)
        cipher = uow.cipher
        assert login.verified_id_number is not None and login.assurance_level is not None
        uow.session.execute(
            sa.delete(GuardianSession).where(
                col(GuardianSession.expires_at) < uow.now - PURGE_AFTER
            )
        )
        uow.insert_at_commit(
            GuardianSession(
                id=session_id,
                provider=provider,
                subject=subject,
                name=login.name,
                id_number_ct=cipher.encrypt(
                    login.verified_id_number, purpose="guardian_session.id_number"
                ),
                phone_ct=cipher.encrypt(phone, purpose="guardian_session.phone") if phone else None,
                assurance_level=login.assurance_level,
                created_at=uow.now,
                expires_at=expires,
            )
        )
        actor = Principal(
            subject,
            Role.GUARDIAN,
            login.name,
            verified_id_number=login.verified_id_number,
            provider=provider,
        )
        bind_login(uow, actor)
        uow.audit(
            AuditEntry(
                subject,
                Role.GUARDIAN.value,
                "guardian.sign_in",
                ENTITY,
                subject,
                {"provider": provider, "assurance_level": login.assurance_level},
                at=uow.now,
            )
        )
        uow.commit()
        return expires

    expires = await rt.write(open_)
    token = guardian_sessions.issue_token(rt.settings, session_id, subject, expires)
    return GuardianSignedIn(token, expires, provider, login.assurance_level)


async def close_guardian_session(rt: Runtime, principal: Principal | None) -> str:
    """End the signed-in guardian's session now; returns the login provider's name.

    :raises Forbidden: not signed in with a guardian session.
    :raises NotFound: the session had already ended.
    """
    actor = require_role(principal, Role.GUARDIAN)
    session_id = actor.session_id
    if session_id is None:
        raise Forbidden("仅统一身份认证登录的会话可以退出")

    def close(uow: UnitOfWork) -> None:
        statement = (
            sa.update(GuardianSession)
            .where(col(GuardianSession.id) == session_id, col(GuardianSession.ended_at).is_(None))
            .values(ended_at=uow.now)
        )
        if execute(uow.session, statement) != 1:
            raise NotFound("会话已结束")
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "guardian.sign_out",
                ENTITY,
                actor.id,
                {"provider": actor.provider},
                at=uow.now,
            )
        )
        uow.commit()

    await rt.write(close)
    rt.guardian_sessions.forget(session_id)
    return actor.provider
