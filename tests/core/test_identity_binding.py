"""Identity binding: an online guardian applies only as the person their login verified.

The "guardian takeover" this prevents: guardian B, signed in with B's own verified ID, types A's
guardian ID number into the form for a made-up child. Before, that attached B's login, name
and phone to A's guardian record (and so to A's children and their SMS). Now it is refused,
A's record is untouched and B sees nothing of A's. Counter staff still submit for families;
a guardian made at the counter binds to the verified login that later submits online; phone
changes are their own audited step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.domain import AuditEvent, Guardian
from ruxue_core.domain.enums import Channel, Role, Status
from ruxue_core.errors import Forbidden, InvalidInput, NotFound, RuxueError
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_phone
from ruxue_core.services.applications import Submitted, submit_application
from ruxue_core.services.guardians import ChangeGuardianPhone, change_guardian_phone
from ruxue_core.services.views import ApplicationView, get_application
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    COUNTER,
    GUARDIAN,
    GUARDIAN_ID,
    OTHER_GUARDIAN,
    OTHER_GUARDIAN_ID,
    UNVERIFIED_GUARDIAN,
    submit_command,
)
from ruxue_core.testing.fakes import CapturingNotifier, CapturingNotifierPlugin
from ruxue_core.uow import UnitOfWork

COUNTED = ("application", "guardian", "child", "job", "message", "case_record", "audit_event")
A_PHONE = "13812345678"
B_PHONE = "13987654321"
PAPERS = ("hukou_book", "property_certificate")


@pytest.fixture
def notifier() -> CapturingNotifier:
    return CapturingNotifier()


@pytest.fixture
async def rt(settings: Settings, notifier: CapturingNotifier) -> AsyncIterator[Runtime]:
    """A runtime whose SMS are captured."""
    runtime = Runtime.create(
        settings.model_copy(update={"notifiers": ["fake"]}),
        extra_plugins=[CapturingNotifierPlugin(notifier)],
    )
    try:
        yield runtime
    finally:
        await runtime.close()


async def row_counts(rt: Runtime) -> dict[str, int]:
    def count(uow: UnitOfWork) -> dict[str, int]:
        return {
            table: uow.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in COUNTED
        }

    return await rt.read(count)


@dataclass(frozen=True)
class GuardianRow:
    """Everything stored about a guardian."""

    id: int
    name: str
    id_number_ct: bytes
    id_number_idx: str
    phone_ct: bytes
    phone_idx: str
    subject: str | None
    bound_at: datetime | None


async def guardians(rt: Runtime) -> list[GuardianRow]:
    def read(uow: UnitOfWork) -> list[GuardianRow]:
        rows = uow.session.exec(select(Guardian).order_by(col(Guardian.id))).all()
        return [
            GuardianRow(
                g.id or 0,
                g.name,
                g.id_number_ct,
                g.id_number_idx,
                g.phone_ct,
                g.phone_idx,
                g.subject,
                g.bound_at,
            )
            for g in rows
        ]

    return await rt.read(read)


async def audit(rt: Runtime, action: str) -> list[AuditEvent]:
    def read(uow: UnitOfWork) -> list[AuditEvent]:
        rows = uow.session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id))
        )
        return list(rows.all())

    return await rt.read(read)


def phone_of(rt: Runtime, guardian: GuardianRow) -> str:
    return rt.cipher.decrypt(guardian.phone_ct, purpose="guardian.phone")


def answer(error: RuxueError) -> tuple[type[RuxueError], str, str | None, str]:
    return type(error), error.message, error.field, str(error)


async def view(rt: Runtime, submitted: Submitted, principal: Principal) -> ApplicationView:
    return await get_application(rt, submitted.application_id, principal)


# ---- the takeover ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed_name", ["张三", "钱四"], ids=["A's name", "B's own name"])
async def test_another_verified_guardian_cannot_take_over_a_guardian_record(
    rt: Runtime, season: str, notifier: CapturingNotifier, typed_name: str
) -> None:
    a_submitted = await submit_application(rt, submit_command(season, phone=A_PHONE), GUARDIAN)
    await Worker(rt, HANDLERS).drain()
    [a_before] = await guardians(rt)
    assert (a_before.subject, a_before.name) == (GUARDIAN.id, "张三")
    assert a_before.bound_at is not None
    a_view_before = await view(rt, a_submitted, GUARDIAN)
    counts = await row_counts(rt)
    sent = len(notifier.sent)

    takeover = submit_command(
        season, guardian_id=GUARDIAN_ID, guardian_name=typed_name, phone=B_PHONE
    )
    with pytest.raises(InvalidInput) as caught:
        await submit_application(rt, takeover, OTHER_GUARDIAN)
    assert caught.value.field == "guardian.idNumber"
    await Worker(rt, HANDLERS).drain()

    assert await row_counts(rt) == counts, "nothing written: no child, no SMS, no audit entry"
    assert await guardians(rt) == [a_before], "A's name, phone, login and binding unchanged"
    assert phone_of(rt, a_before) == A_PHONE
    assert len(notifier.sent) == sent
    assert all(sms.phone != B_PHONE for sms in notifier.sent)

    # A still sees A's application, unchanged; B gets the answer for a missing one.
    assert await view(rt, a_submitted, GUARDIAN) == a_view_before
    with pytest.raises(NotFound) as not_theirs:
        await view(rt, a_submitted, OTHER_GUARDIAN)
    with pytest.raises(NotFound) as no_such:
        await get_application(rt, a_submitted.application_id + 1000, OTHER_GUARDIAN)
    assert answer(not_theirs.value) == answer(no_such.value)


async def test_b_applies_under_b_s_own_identity(rt: Runtime, season: str) -> None:
    a_submitted = await submit_application(rt, submit_command(season), GUARDIAN)
    b_command = submit_command(
        season, guardian_id=OTHER_GUARDIAN_ID, guardian_name="钱四", phone=B_PHONE
    )
    b_submitted = await submit_application(rt, b_command, OTHER_GUARDIAN)
    a_row, b_row = await guardians(rt)
    assert (a_row.subject, b_row.subject) == (GUARDIAN.id, OTHER_GUARDIAN.id)
    assert phone_of(rt, b_row) == B_PHONE
    assert (await view(rt, b_submitted, OTHER_GUARDIAN)).status is Status.SUBMITTED
    with pytest.raises(NotFound):
        await view(rt, b_submitted, GUARDIAN)
    with pytest.raises(NotFound):
        await view(rt, a_submitted, OTHER_GUARDIAN)


async def test_a_login_without_a_verified_id_cannot_submit(rt: Runtime, season: str) -> None:
    counts = await row_counts(rt)
    command = submit_command(season, guardian_name=UNVERIFIED_GUARDIAN.name)
    with pytest.raises(Forbidden):
        await submit_application(rt, command, UNVERIFIED_GUARDIAN)
    assert await row_counts(rt) == counts


async def test_the_verified_name_must_be_the_form_s_guardian_name(rt: Runtime, season: str) -> None:
    counts = await row_counts(rt)
    with pytest.raises(InvalidInput) as caught:
        await submit_application(rt, submit_command(season, guardian_name="张四"), GUARDIAN)
    assert caught.value.field == "guardian.name"
    assert await row_counts(rt) == counts


async def test_a_known_guardian_s_name_is_never_overwritten(rt: Runtime, season: str) -> None:
    await submit_application(rt, submit_command(season), GUARDIAN)
    [before] = await guardians(rt)
    counts = await row_counts(rt)
    with pytest.raises(InvalidInput) as caught:
        await submit_application(rt, submit_command(season, guardian_name="张四"), COUNTER)
    assert caught.value.field == "guardian.name"
    assert await row_counts(rt) == counts
    assert await guardians(rt) == [before]


# ---- at the counter -------------------------------------------------------------------------


async def test_counter_staff_submit_for_a_family_and_record_the_papers_seen(
    rt: Runtime, season: str
) -> None:
    command = replace(submit_command(season, guardian_id=OTHER_GUARDIAN_ID), paper_seen=PAPERS)
    submitted = await submit_application(rt, command, COUNTER)

    counter_view = await view(rt, submitted, COUNTER)
    assert counter_view.channel is Channel.COUNTER
    [made] = await guardians(rt)
    assert (made.subject, made.bound_at) == (None, None), "counter staff are not the guardian"
    [papers] = await audit(rt, "application.paper_seen")
    assert (papers.actor, papers.role) == (COUNTER.id, Role.COUNTER_STAFF.value)
    assert (papers.entity, papers.entity_id) == ("application", submitted.receipt_no)
    assert papers.data == {"paper_seen": list(PAPERS)}
    [created] = await audit(rt, "guardian.create")
    assert created.data == {"channel": "counter"}
    assert await audit(rt, "guardian.bind") == []

    # An online submission records no papers.
    await submit_application(rt, submit_command(season), GUARDIAN)
    assert len(await audit(rt, "application.paper_seen")) == 1


async def test_a_guardian_made_at_the_counter_binds_to_the_verified_login_later(
    rt: Runtime, season: str
) -> None:
    at_counter = await submit_application(rt, submit_command(season), COUNTER)
    [made] = await guardians(rt)
    assert made.bound_at is None

    online = await submit_application(rt, submit_command(season), GUARDIAN)
    [bound] = await guardians(rt)
    assert bound.id == made.id, "the same guardian record, found by the verified ID"
    assert bound.subject == GUARDIAN.id
    assert bound.bound_at is not None
    assert (bound.name, bound.phone_ct) == (made.name, made.phone_ct)
    [bind] = await audit(rt, "guardian.bind")
    assert (bind.actor, bind.entity_id) == (GUARDIAN.id, f"guardian:{made.id}")

    # The guardian sees both applications; another guardian neither.
    assert {(await view(rt, s, GUARDIAN)).channel for s in (at_counter, online)} == {
        Channel.COUNTER,
        Channel.ONLINE,
    }
    for submitted in (at_counter, online):
        with pytest.raises(NotFound):
            await view(rt, submitted, OTHER_GUARDIAN)

    # A later submission binds nothing again.
    await submit_application(rt, submit_command(season), GUARDIAN)
    [still] = await guardians(rt)
    assert still.bound_at == bound.bound_at
    assert len(await audit(rt, "guardian.bind")) == 1


# ---- phone numbers --------------------------------------------------------------------------


async def test_a_different_phone_at_a_later_submission_is_an_audited_change(
    rt: Runtime, season: str, notifier: CapturingNotifier
) -> None:
    await submit_application(rt, submit_command(season, phone=A_PHONE), GUARDIAN)
    await submit_application(rt, submit_command(season, phone=A_PHONE), GUARDIAN)
    assert await audit(rt, "guardian.phone_change") == [], "the same phone changes nothing"

    new_phone = "13700001234"
    later = await submit_application(rt, submit_command(season, phone=new_phone), GUARDIAN)
    [guardian] = await guardians(rt)
    assert phone_of(rt, guardian) == new_phone
    assert rt.cipher.matches(new_phone, guardian.phone_idx, purpose="guardian.phone")
    [change] = await audit(rt, "guardian.phone_change")
    assert (change.actor, change.entity_id) == (GUARDIAN.id, f"guardian:{guardian.id}")
    assert change.data == {"phone": mask_phone(new_phone)} == {"phone": "137****1234"}
    assert new_phone not in str(change.data)

    await Worker(rt, HANDLERS).drain()
    to_later = [sms.phone for sms in notifier.sent if later.receipt_no in sms.text]
    assert to_later, "the later application's SMS were sent"
    assert set(to_later) == {new_phone}


async def test_a_guardian_changes_their_own_phone(rt: Runtime, season: str) -> None:
    await submit_application(rt, submit_command(season, phone=A_PHONE), GUARDIAN)
    [before] = await guardians(rt)

    masked = await change_guardian_phone(rt, ChangeGuardianPhone("137-0000 5678"), GUARDIAN)
    assert masked == "137****5678"
    [after] = await guardians(rt)
    assert phone_of(rt, after) == "13700005678"
    assert replace(after, phone_ct=before.phone_ct, phone_idx=before.phone_idx) == before
    [change] = await audit(rt, "guardian.phone_change")
    assert change.actor == GUARDIAN.id
    assert change.data == {"phone": masked}


@pytest.mark.parametrize(
    ("principal", "phone", "error", "field"),
    [
        pytest.param(OTHER_GUARDIAN, "13700005678", NotFound, "phone", id="no guardian record"),
        pytest.param(UNVERIFIED_GUARDIAN, "13700005678", Forbidden, None, id="unverified"),
        pytest.param(COUNTER, "13700005678", Forbidden, None, id="counter staff"),
        pytest.param(None, "13700005678", Forbidden, None, id="anonymous"),
        pytest.param(GUARDIAN, "1370000567", InvalidInput, "phone", id="malformed phone"),
    ],
)
async def test_a_phone_change_that_cannot_be_made_changes_nothing(
    rt: Runtime,
    season: str,
    principal: Principal | None,
    phone: str,
    error: type[RuxueError],
    field: str | None,
) -> None:
    await submit_application(rt, submit_command(season, phone=A_PHONE), GUARDIAN)
    before = await guardians(rt)
    counts = await row_counts(rt)
    with pytest.raises(error) as caught:
        await change_guardian_phone(rt, ChangeGuardianPhone(phone), principal)
    assert caught.value.field == field
    assert await guardians(rt) == before
    assert await row_counts(rt) == counts
