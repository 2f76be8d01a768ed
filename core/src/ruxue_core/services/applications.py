"""Application use cases: submit, review, withdraw, and the public status lookup."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Application, Child, Guardian, Review, School, Season
from ruxue_core.domain.enums import (
    STATUS_LABELS,
    Channel,
    Relationship,
    ReviewDecision,
    Role,
    Status,
)
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import Duplicate, Ineligible, InvalidInput, NotFound, RateLimited
from ruxue_core.lifecycle import Event, apply_event
from ruxue_core.permissions import ensure_can_see, require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules import codes
from ruxue_core.rules.eligibility import check_age
from ruxue_core.rules.fields import validate_address, validate_name, validate_phone
from ruxue_core.rules.national_id import parse_national_id
from ruxue_core.security import mask_name
from ruxue_core.uow import UnitOfWork

QUERY_LOCK = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class PersonInput:
    """A person as typed on the form."""

    name: str
    id_number: str


@dataclass(frozen=True, slots=True)
class SubmitApplication:
    """Command: a guardian (online) or counter staff (on their behalf) submits an application."""

    season_code: str
    child: PersonInput
    guardian: PersonInput
    guardian_phone: str
    relationship: Relationship
    address: str
    township_code: str | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the applicant is told once: the receipt number and the query code."""

    application_id: int
    receipt_no: str
    query_code: str
    status: Status
    version: int


async def submit_application(
    uow: UnitOfWork, command: SubmitApplication, principal: Principal | None
) -> Submitted:
    """Validate, store encrypted, and submit; the verification job is queued in the same commit.

    :raises InvalidInput: a field is malformed (``field`` names it).
    :raises Ineligible: the season is closed or the child's age does not fit.
    :raises Duplicate: the child already has an application this season.
    :raises Forbidden: neither a guardian nor counter staff.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF, Role.ADMIN)
    child_id = parse_national_id(command.child.id_number, field="child.idNumber")
    guardian_id = parse_national_id(command.guardian.id_number, field="guardian.idNumber")
    child_name = validate_name(command.child.name, field="child.name")
    guardian_name = validate_name(command.guardian.name, field="guardian.name")
    phone = validate_phone(command.guardian_phone, field="guardianPhone")
    address = validate_address(command.address, field="address")
    if child_id.value == guardian_id.value:
        raise InvalidInput("儿童与监护人的身份证号码不能相同", field="guardian.idNumber")
    season = (
        await uow.session.exec(select(Season).where(Season.code == command.season_code))
    ).first()
    if season is None:
        raise InvalidInput("招生季不存在", field="seasonCode")
    now = utcnow()
    if not season.opens_at <= now <= season.closes_at:
        raise Ineligible("不在报名时间内", field="seasonCode")
    check_age(child_id.birth_date, season.age_cutoff)
    assert season.id is not None

    cipher = uow.cipher
    child_idx = cipher.blind_index(child_id.value, purpose="child.id_number")
    child = (await uow.session.exec(select(Child).where(Child.id_number_idx == child_idx))).first()
    if child is None:
        child = Child(
            name=child_name,
            id_number_ct=cipher.encrypt(child_id.value, purpose="child.id_number"),
            id_number_idx=child_idx,
            birth_date=child_id.birth_date,
            male=child_id.male,
        )
        uow.session.add(child)
        try:
            await uow.session.flush()
        except IntegrityError:  # a concurrent submission inserted the same child first
            raise Duplicate() from None
    elif await _has_application(uow, season.id, child.id):
        raise Duplicate()
    guardian = await _guardian(uow, guardian_name, guardian_id.value, phone, actor)

    query_code = codes.new_query_code()
    assert child.id is not None and guardian.id is not None
    application = Application(
        receipt_no=codes.new_receipt_no(uow.settings.district_code, now.date()),
        query_code_ct=cipher.encrypt(query_code, purpose="query_code"),
        query_code_hash=cipher.blind_index(query_code, purpose="query_code"),
        season_id=season.id,
        child_id=child.id,
        guardian_id=guardian.id,
        relationship=command.relationship,
        channel=Channel.ONLINE if actor.role is Role.GUARDIAN else Channel.COUNTER,
        township_code=command.township_code,
        address=address,
    )
    uow.session.add(application)
    try:
        await uow.session.flush()
    except IntegrityError:
        raise Duplicate() from None
    await apply_event(uow, application, Event.SUBMIT, actor)
    await uow.commit()
    assert application.id is not None and application.version is not None
    return Submitted(
        application.id, application.receipt_no, query_code, application.status, application.version
    )


async def _has_application(uow: UnitOfWork, season_id: int, child_id: int | None) -> bool:
    found = await uow.session.exec(
        select(Application.id).where(
            Application.season_id == season_id, Application.child_id == child_id
        )
    )
    return found.first() is not None


async def _guardian(
    uow: UnitOfWork, name: str, id_number: str, phone: str, actor: Principal
) -> Guardian:
    """Find the guardian by blind index (refreshing name and phone) or create one."""
    cipher = uow.cipher
    idx = cipher.blind_index(id_number, purpose="guardian.id_number")
    guardian = await _guardian_by_index(uow, idx)
    if guardian is None:
        try:
            async with uow.session.begin_nested():  # a savepoint: a lost race rolls back alone
                guardian = Guardian(
                    name=name,
                    id_number_ct=cipher.encrypt(id_number, purpose="guardian.id_number"),
                    id_number_idx=idx,
                    phone_ct=b"",
                    phone_idx="",
                )
                uow.session.add(guardian)
        except IntegrityError:  # the guardian's other child (a twin) was submitted just now
            guardian = await _guardian_by_index(uow, idx)
            assert guardian is not None
    guardian.name = name
    guardian.phone_ct = cipher.encrypt(phone, purpose="guardian.phone")
    guardian.phone_idx = cipher.blind_index(phone, purpose="guardian.phone")
    if actor.role is Role.GUARDIAN:
        guardian.subject = actor.id
    uow.session.add(guardian)
    await uow.session.flush()
    return guardian


async def _guardian_by_index(uow: UnitOfWork, idx: str) -> Guardian | None:
    found = await uow.session.exec(select(Guardian).where(Guardian.id_number_idx == idx))
    return found.first()


@dataclass(frozen=True, slots=True)
class ReviewApplication:
    """Command: a reviewer decides at the application's current review step."""

    application_id: int
    decision: ReviewDecision
    comment: str = ""
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The application's new status and version after a review, correction or withdrawal."""

    application_id: int
    receipt_no: str
    status: Status
    version: int

    @classmethod
    def of(cls, application: Application) -> StatusChanged:
        """The result for an application just changed and flushed."""
        assert application.id is not None
        assert application.version is not None
        return cls(application.id, application.receipt_no, application.status, application.version)


_REVIEW_EVENTS = {
    ReviewDecision.APPROVE: Event.APPROVE,
    ReviewDecision.RETURN: Event.RETURN,
    ReviewDecision.REJECT: Event.REJECT,
}


async def review_application(
    uow: UnitOfWork, command: ReviewApplication, principal: Principal | None
) -> StatusChanged:
    """Record a review decision and apply the matching event.

    :raises Forbidden, NotFound, InvalidTransition, Conflict: as their names say; nothing changes.
    """
    actor = require_role(
        principal, Role.COUNTER_STAFF, Role.SCHOOL_REVIEWER, Role.BUREAU_OFFICER, Role.ADMIN
    )
    if len(command.comment) > 500:
        raise InvalidInput("审核意见不超过500字", field="comment")
    application, guardian = await _load(uow, command.application_id)
    ensure_can_see(actor, application, guardian, await _school_code(uow, application))
    step = application.status
    event = _REVIEW_EVENTS[command.decision]
    if step is Status.MANUAL_REVIEW and event is Event.APPROVE:
        event = Event.CONFIRM_MANUALLY
    await apply_event(
        uow,
        application,
        event,
        actor,
        comment=command.comment,
        expected_version=command.expected_version,
    )
    uow.session.add(
        Review(
            application_id=command.application_id,
            step=step,
            decision=command.decision,
            comment=command.comment,
            reviewer=actor.id,
        )
    )
    await uow.commit()
    return StatusChanged.of(application)


async def withdraw_application(
    uow: UnitOfWork, application_id: int, principal: Principal | None
) -> StatusChanged:
    """The guardian (or counter staff for them) withdraws an application not yet decided."""
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    application, guardian = await _load(uow, application_id)
    ensure_can_see(actor, application, guardian)
    await apply_event(uow, application, Event.WITHDRAW, actor)
    await uow.commit()
    return StatusChanged.of(application)


@dataclass(frozen=True, slots=True)
class CorrectApplication:
    """Command: after a failed check (退回补正), the guardian corrects the declared address
    and resubmits; verification runs again."""

    application_id: int
    address: str
    township_code: str | None = None
    expected_version: int | None = None


async def correct_application(
    uow: UnitOfWork, command: CorrectApplication, principal: Principal | None
) -> StatusChanged:
    """Apply the correction and resubmit (``needs_correction`` → ``submitted``).

    :raises InvalidInput, Forbidden, NotFound, InvalidTransition, Conflict: nothing changes.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    address = validate_address(command.address, field="address")
    application, guardian = await _load(uow, command.application_id)
    ensure_can_see(actor, application, guardian)
    application.address = address
    application.township_code = command.township_code or application.township_code
    await apply_event(
        uow,
        application,
        Event.CORRECT,
        actor,
        comment="补正住址",
        expected_version=command.expected_version,
    )
    await uow.commit()
    return StatusChanged.of(application)


async def _load(uow: UnitOfWork, application_id: int) -> tuple[Application, Guardian]:
    application = await uow.session.get(Application, application_id)
    if application is None:
        raise NotFound("申请不存在", field="applicationId")
    guardian = await uow.session.get(Guardian, application.guardian_id)
    assert guardian is not None
    return application, guardian


async def _school_code(uow: UnitOfWork, application: Application) -> str | None:
    if application.school_id is None:
        return None
    school = await uow.session.get(School, application.school_id)
    return school.code if school else None


@dataclass(frozen=True, slots=True)
class StatusView:
    """What the public lookup shows: no personal numbers, the child's name masked."""

    receipt_no: str
    status: Status
    status_label: str
    child_name: str
    school_name: str | None
    updated_at: datetime


async def lookup_status(uow: UnitOfWork, receipt_no: str, query_code: str) -> StatusView:
    """Anonymous result lookup by receipt number and query code (办件编号 + 查询密码).

    Unknown receipt numbers and wrong codes get the same ``NotFound``; after
    ``query_code_max_failures`` wrong codes the receipt number is locked for 15 minutes.
    """
    receipt_no = receipt_no.strip().upper()
    if not codes.is_valid_receipt_no(receipt_no):
        raise InvalidInput("办件编号格式不正确", field="receiptNo")
    if not codes.QUERY_CODE_PATTERN.fullmatch(query_code):
        raise InvalidInput("查询密码应为6位数字", field="queryCode")
    application = (
        await uow.session.exec(select(Application).where(col(Application.receipt_no) == receipt_no))
    ).first()
    if application is None:
        raise NotFound("办件编号或查询密码不正确")
    now = utcnow()
    if application.query_locked_until is not None and application.query_locked_until > now:
        raise RateLimited()
    expected = uow.cipher.blind_index(query_code, purpose="query_code")
    if not hmac.compare_digest(expected, application.query_code_hash):
        failures = application.query_failures + 1
        locked = failures >= uow.settings.query_code_max_failures
        # A Core UPDATE: counting failures must not bump the optimistic-locking version.
        await (await uow.session.connection()).execute(
            sa.update(Application)
            .where(col(Application.id) == application.id)
            .values(
                query_failures=0 if locked else failures,
                query_locked_until=now + QUERY_LOCK if locked else None,
            )
        )
        uow.audit(AuditEntry("anonymous", "anonymous", "lookup.failed", "application", receipt_no))
        await uow.commit()
        raise NotFound("办件编号或查询密码不正确")
    if application.query_failures:
        await (await uow.session.connection()).execute(
            sa.update(Application)
            .where(col(Application.id) == application.id)
            .values(query_failures=0)
        )
        await uow.commit()
    child = await uow.session.get(Child, application.child_id)
    assert child is not None
    school = await uow.session.get(School, application.school_id) if application.school_id else None
    return StatusView(
        receipt_no=application.receipt_no,
        status=application.status,
        status_label=STATUS_LABELS[application.status],
        child_name=mask_name(child.name),
        school_name=school.name if school else None,
        updated_at=application.updated_at,
    )
