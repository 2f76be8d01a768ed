"""Guardians' sessions: a unified-identity login becomes a short, signed Ruxue session that
carries the verified identity, binds to the family's record, and ends at sign-out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core import guardian_sessions, keys
from ruxue_core.domain import AuditEvent, Guardian, GuardianSession
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Forbidden, NotFound
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.sessions import close_guardian_session, open_guardian_session
from ruxue_core.settings import GuardianAuthSettings, Settings
from ruxue_core.testing.factories import COUNTER, GUARDIAN_ID, submit_command
from ruxue_core.uow import UnitOfWork

LOGIN = Principal(
    "user-0001",
    Role.GUARDIAN,
    "张三",
    verified_id_number=GUARDIAN_ID,
    assurance_level=3,
    verified_phone="13812345678",
)


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_a_session_carries_the_verified_identity_until_sign_out(runtime: Runtime) -> None:
    session = await open_guardian_session(runtime, "hubei-portal", LOGIN)
    assert session.token.startswith("gdn.") and session.assurance_level == 3
    assert GUARDIAN_ID not in session.token  # the token names the session, nothing more

    principal = await runtime.authenticate(bearer(session.token))
    assert principal is not None
    assert principal.role is Role.GUARDIAN
    assert principal.id == "hubei-portal:user-0001"
    assert principal.provider == "hubei-portal"
    assert principal.verified_id_number == GUARDIAN_ID
    assert (principal.name, principal.verified_phone, principal.assurance_level) == (
        "张三",
        "13812345678",
        3,
    )
    assert GUARDIAN_ID not in repr(principal) and "13812345678" not in repr(principal)

    assert await close_guardian_session(runtime, principal) == "hubei-portal"
    assert await runtime.authenticate(bearer(session.token)) is None
    with pytest.raises(NotFound):
        await close_guardian_session(runtime, principal)


async def test_the_session_row_stores_identity_encrypted_and_no_provider_credential(
    runtime: Runtime,
) -> None:
    await open_guardian_session(runtime, "hubei-portal", LOGIN)
    raw = await runtime.read(
        lambda uow: uow.session.execute(sa.text("SELECT * FROM guardian_session")).one()
    )
    text = repr(tuple(raw))
    assert GUARDIAN_ID not in text and "13812345678" not in text
    assert set(raw._mapping) == {
        "id",
        "provider",
        "subject",
        "name",
        "id_number_ct",
        "phone_ct",
        "assurance_level",
        "created_at",
        "expires_at",
        "ended_at",
    }


@pytest.mark.parametrize(
    "login",
    [
        replace(LOGIN, assurance_level=1),
        replace(LOGIN, assurance_level=None),
        replace(LOGIN, verified_id_number=None),
        replace(LOGIN, verified_id_number="420704198501011234"),  # bad check digit
        replace(LOGIN, name=""),
        replace(LOGIN, role=Role.BUREAU_OFFICER),
        None,
    ],
)
async def test_a_login_without_good_real_name_verification_opens_no_session(
    runtime: Runtime, login: Principal | None
) -> None:
    with pytest.raises(Forbidden):
        await open_guardian_session(runtime, "hubei-portal", login)
    count = await runtime.read(
        lambda uow: uow.session.exec(select(sa.func.count()).select_from(GuardianSession)).one()
    )
    assert count == 0


async def test_the_required_level_is_configurable(settings: Settings) -> None:
    lenient = settings.model_copy(
        update={"guardian_auth": GuardianAuthSettings(min_assurance_level=1)}
    )
    runtime = Runtime.create(lenient)
    try:
        session = await open_guardian_session(runtime, "x", replace(LOGIN, assurance_level=1))
        assert session.assurance_level == 1
    finally:
        await runtime.close()


async def test_signing_in_binds_the_family_record_counter_staff_made(
    runtime: Runtime, season: str
) -> None:
    await submit_application(runtime, submit_command(season, township_code="420704101"), COUNTER)

    def guardian(uow: UnitOfWork) -> Guardian:
        return uow.session.exec(select(Guardian)).one()

    assert (await runtime.read(guardian)).bound_at is None
    await open_guardian_session(runtime, "hubei-portal", LOGIN)
    bound = await runtime.read(guardian)
    assert bound.bound_at is not None and bound.subject == "hubei-portal:user-0001"
    actions = await runtime.read(
        lambda uow: [
            e.action for e in uow.session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        ]
    )
    assert actions[-2:] == ["guardian.bind", "guardian.sign_in"]


async def test_an_expired_or_forged_session_is_anonymous(runtime: Runtime) -> None:
    session = await open_guardian_session(runtime, "hubei-portal", LOGIN)
    principal = guardian_sessions.principal_from_token(
        b"\x00" * 32, bearer(session.token)
    )  # another deployment's key
    assert principal is None
    forged = session.token[:-2] + ("AA" if not session.token.endswith("AA") else "BB")
    assert await runtime.authenticate(bearer(forged)) is None

    def expire(uow: UnitOfWork) -> None:
        uow.session.execute(
            sa.update(GuardianSession).values(expires_at=uow.now - timedelta(seconds=1))
        )
        uow.commit()

    await runtime.write(expire)
    key = keys.load_key(runtime.settings, keys.SESSION_SECRET)
    own = guardian_sessions.principal_from_token(key, bearer(session.token))
    assert own is not None and own.session_id is not None
    runtime.guardian_sessions.forget(own.session_id)  # as after the cache's two seconds
    assert await runtime.authenticate(bearer(session.token)) is None


async def test_login_state_is_signed_and_expires(settings: Settings) -> None:
    state = guardian_sessions.issue_state(settings, {"p": "hubei-portal", "n": "nonce"})
    data = guardian_sessions.verify_state(settings, state)
    assert data is not None and (data["p"], data["n"]) == ("hubei-portal", "nonce")
    assert guardian_sessions.verify_state(settings, state[:-2] + "xx") is None


def test_login_providers_need_the_guardian_session_provider(settings: Settings) -> None:
    from ruxue_core.errors import ConfigurationError

    broken = settings.model_copy(
        update={
            "identity_providers": ["staff"],
            "guardian_auth": GuardianAuthSettings(login_providers=["hubei_portal"]),
        }
    )
    with pytest.raises(ConfigurationError, match="guardian"):
        Runtime.create(broken)
