"""Application use cases: submit, review, correct, withdraw.

Each validates what it can before touching the database, then runs one unit of work (one hop
to a database thread) that commits once.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ruxue_core import routing
from ruxue_core.domain import Application, Child, Consent, Region, Review, School, Season
from ruxue_core.domain.enums import Channel, Relationship, ReviewDecision, Role, Stage, Status
from ruxue_core.errors import Duplicate, Forbidden, InvalidInput
from ruxue_core.lifecycle import Case, Event, apply_event, load_case, open_case, transition_for
from ruxue_core.permissions import require_role, visible
from ruxue_core.phases import Phase, require_phase
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules import codes
from ruxue_core.rules.eligibility import AgeWindow, age_exception
from ruxue_core.rules.fields import (
    validate_address,
    validate_code,
    validate_name,
    validate_phone,
    validate_text,
)
from ruxue_core.rules.national_id import parse_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services import guardians, submission_key
from ruxue_core.uow import LostRace, UnitOfWork

MAX_COMMENT: Final = 500
CONSENT_STATEMENT: Final = "RX-SQHD-2026-1"
"""Version of the consent text (授权核对告知书) the applicant agreed to."""
IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True, slots=True)
class PersonInput:
    """A person as typed on the form."""

    name: str
    id_number: str


@dataclass(frozen=True, slots=True)
class SubmitApplication:
    """Command: a guardian (online) or counter staff (on their behalf) submits an application.

    :ivar paper_seen: counter staff: the originals they checked (recorded in the audit log).
    :ivar consent: the guardian authorises checking their own and the child's data against
        the departments' shared data (授权核对); at a counter, staff record the signed form.
        Without it nothing is checked and the application goes to manual review.
    :ivar idempotency_key: the client's key for this submission (8–64 letters, digits, ``-``,
        ``_``; a UUID does): a retry with the same key gets the first answer again.
    :ivar primary_school_code: 小升初 (junior seasons only): the primary school the child
        graduates from; the season's feeder mapping puts its middle school first.
    """

    season_code: str
    child: PersonInput
    guardian: PersonInput
    guardian_phone: str
    relationship: Relationship
    address: str
    township_code: str
    paper_seen: tuple[str, ...] = ()
    consent: bool = False
    idempotency_key: str | None = None
    primary_school_code: str | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the applicant is told once: the receipt number and the query code."""

    application_id: int
    receipt_no: str
    query_code: str
    status: Status
    version: int


@dataclass(frozen=True, slots=True)
class Form:
    """A submission after validation: normalised values, nothing looked up yet."""

    command: SubmitApplication
    child_id: str
    child_birth: date
    child_male: bool
    child_name: str
    guardian: guardians.GuardianForm
    address: str


async def submit_application(
    rt: Runtime, command: SubmitApplication, principal: Principal | None
) -> Submitted:
    """Validate, store encrypted, and submit; verification is queued in the same commit.

    Online, a guardian applies only as the guardian their login verified; counter staff apply
    on a family's behalf after checking its papers.

    :raises InvalidInput: a field is malformed (``field`` names it).
    :raises Ineligible: the child's age does not fit.
    :raises OutOfPhase: registration is not open.
    :raises Duplicate: the child already has an application this season (unless this is a
        retry with the first submission's idempotency key: then the first answer comes back).
    :raises Forbidden: neither a guardian nor counter staff, or a login without real-name
        verification.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    form = validate_form(command, actor)
    return await rt.write(lambda uow: submit_form(uow, form, actor))


def validate_form(command: SubmitApplication, actor: Principal) -> Form:
    """A submission's fields checked and normalised (no I/O).

    :raises InvalidInput, Forbidden: as :func:`submit_application`.
    """
    child_id = parse_national_id(command.child.id_number, field="child.idNumber")
    guardian_id = parse_national_id(command.guardian.id_number, field="guardian.idNumber")
    if child_id.value == guardian_id.value:
        raise InvalidInput("儿童与监护人的身份证号码不能相同", field="guardian.idNumber")
    guardian = guardians.GuardianForm(
        name=validate_name(command.guardian.name, field="guardian.name"),
        id_number=guardian_id.value,
        phone=validate_phone(command.guardian_phone, field="guardianPhone"),
    )
    guardians.check_online_identity(actor, guardian)
    if command.paper_seen and actor.role is not Role.COUNTER_STAFF:
        raise InvalidInput("仅窗口受理时登记已核验的原件", field="paperSeen")
    validate_code(command.season_code, field="seasonCode", message="招生季不存在")
    if len(command.paper_seen) > 20 or any(len(p) > 50 for p in command.paper_seen):
        raise InvalidInput("已核验材料清单过长", field="paperSeen")
    for paper in command.paper_seen:
        validate_text(
            paper, field="paperSeen", max_length=50, message="已核验材料名称不能含控制字符"
        )
    if actor.role is Role.COUNTER_STAFF and actor.region_code != command.township_code:
        raise Forbidden("窗口工作人员只能受理本乡镇（街道）的报名", field="townshipCode")
    validate_code(command.township_code, field="townshipCode", message="乡镇（街道）代码格式不正确")
    if command.primary_school_code is not None:
        validate_code(
            command.primary_school_code, field="primarySchoolCode", message="小学代码格式不正确"
        )
    key = command.idempotency_key
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput("幂等键应为 8 到 64 位字母、数字、- 或 _", field="idempotencyKey")
    return Form(
        command=command,
        child_id=child_id.value,
        child_birth=child_id.birth_date,
        child_male=child_id.male,
        child_name=validate_name(command.child.name, field="child.name"),
        guardian=guardian,
        address=validate_address(command.address, field="address"),
    )


def submit_form(
    uow: UnitOfWork,
    form: Form,
    actor: Principal,
    *,
    before: Callable[[], None] | None = None,
    after: Callable[[Case], None] | None = None,
) -> Submitted:
    """Submit a validated form in ``uow`` and commit.

    :param before: runs after an idempotent retry was answered and before anything is
        written (a draft refuses a second submission here).
    :param after: runs in the same transaction once the application exists (a draft links
        it, a counter records the papers it saw).
    """
    command = form.command
    key = submission_key.of(uow, actor, command.idempotency_key, _fingerprinted(form))
    if key is not None and (first := submission_key.replay(uow, key)) is not None:
        return _first_answer(first)
    if before is not None:
        before()
    season, school = _season_and_township(uow, command)
    require_phase(season, Phase.REGISTRATION, uow.now)
    if command.primary_school_code is not None and season.stage is not Stage.JUNIOR:
        raise InvalidInput("只有初中招生季填写毕业小学", field="primarySchoolCode")
    exception = age_exception(form.child_birth, AgeWindow.of(season))
    cipher = uow.cipher
    try:
        child = _child(uow, form, season)
    except Duplicate:
        # a concurrent retry with the same key may have committed the first submission
        if key is not None and (first := submission_key.replay(uow, key)) is not None:
            return _first_answer(first)
        raise
    guardian = guardians.find_or_create(uow, form.guardian, actor)
    query_code = codes.new_query_code()
    assert season.id is not None and child.id is not None and guardian.id is not None
    application = Application(
        receipt_no=codes.new_receipt_no(uow.settings.district_code, uow.now.date()),
        query_code_ct=cipher.encrypt(query_code, purpose="query_code"),
        query_code_hash=cipher.blind_index(query_code, purpose="query_code"),
        season_id=season.id,
        child_id=child.id,
        guardian_id=guardian.id,
        relationship=command.relationship,
        channel=Channel.ONLINE if actor.role is Role.GUARDIAN else Channel.COUNTER,
        township_code=command.township_code,
        address_ct=cipher.encrypt(form.address, purpose="application.address"),
        age_exception=exception,
        school_id=school.id if school else None,
        primary_school_code=command.primary_school_code,
    )
    case = Case(application, season, child, guardian, school)
    try:
        open_case(uow, case, Event.SUBMIT, actor)
        if key is not None:
            submission_key.remember(uow, key, case.id)
    except IntegrityError as exc:
        if "receipt_no" in str(exc.orig) or key is not None:
            # a lost race; with a key, the first submission may have won it: run again
            raise LostRace() from None
        raise Duplicate() from None
    if command.consent:
        uow.insert_at_commit(
            Consent(
                application_id=case.id,
                ref=uuid.uuid4().hex,
                subjects="child,guardian",
                statement=CONSENT_STATEMENT,
                channel=application.channel,
                recorded_by=actor.id,
                given_at=uow.now,
            )
        )
    if command.paper_seen:
        guardians.record_paper(uow, actor, application.receipt_no, command.paper_seen)
    if after is not None:
        after(case)
    uow.commit()
    return Submitted(case.id, application.receipt_no, query_code, application.status, 1)


def _first_answer(first: submission_key.FirstAnswer) -> Submitted:
    """The answer the first submission with this key gave."""
    status = transition_for(Status.DRAFT, Event.SUBMIT).target
    return Submitted(first.application_id, first.receipt_no, first.query_code, status, 1)


def _fingerprinted(form: Form) -> dict[str, object]:
    """What makes two submissions the same submission (normalised values)."""
    command = form.command
    return {
        "season": command.season_code,
        "child": [form.child_name, form.child_id],
        "guardian": [form.guardian.name, form.guardian.id_number, form.guardian.phone],
        "relationship": command.relationship.value,
        "address": form.address,
        "township": command.township_code,
        **({"primary_school": command.primary_school_code} if command.primary_school_code else {}),
        "paper_seen": list(command.paper_seen),
        "consent": command.consent,
    }


@functools.cache
def _season_and_township_query() -> sa.Select[Season, int | None, School]:
    township = sa.and_(
        col(Region.code) == sa.bindparam("township_code"), col(Region.level) == "township"
    )
    return (
        sa.select(Season, col(Region.id), School)
        .select_from(Season)
        .outerjoin(Region, township)
        .outerjoin(
            School,
            sa.and_(
                col(School.township_id) == Region.id,
                col(School.stage) == Season.stage,
                col(School.public).is_(True),  # a private school is never the zoned one
            ),
        )
        .where(col(Season.code) == sa.bindparam("season_code"))
        .limit(2)
    )


def _season_and_township(
    uow: UnitOfWork, command: SubmitApplication
) -> tuple[Season, School | None]:
    """The season, after checking the township is one of its regions, and, while zones are by
    township, the township's school (its one public school of the season's stage; none when it
    has several): one statement.

    :raises InvalidInput: no such season, or a township outside it.
    """
    parameters = {"township_code": command.township_code, "season_code": command.season_code}
    rows = uow.session.execute(_season_and_township_query(), parameters).all()
    if not rows:
        raise InvalidInput("招生季不存在", field="seasonCode")
    season, township_id, school = rows[0]
    if township_id is None:
        raise InvalidInput("所选乡镇（街道）不在本招生季的范围内", field="townshipCode")
    return season, school if len(rows) == 1 else None


def _child(uow: UnitOfWork, form: Form, season: Season) -> Child:
    """The child's row (new, or known from an earlier season); ``Duplicate`` if it already
    has an application in this one. A new child costs one ``INSERT``."""
    cipher = uow.cipher
    index = cipher.blind_index(form.child_id, purpose="child.id_number")
    child = Child(
        name=form.child_name,
        id_number_ct=cipher.encrypt(form.child_id, purpose="child.id_number"),
        id_number_idx=index,
        birth_date=form.child_birth,
        male=form.child_male,
    )
    if uow.insert_now(child, unless_exists="id_number_idx") is not None:
        return child
    known = uow.session.exec(select(Child).where(col(Child.id_number_idx) == index)).one()
    taken = uow.session.exec(
        select(Application.id).where(
            col(Application.season_id) == season.id, col(Application.child_id) == known.id
        )
    ).first()
    if taken is not None:
        raise Duplicate()
    return known


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
    def of(cls, case: Case) -> StatusChanged:
        """The result for a case just changed."""
        application = case.application
        return cls(case.id, application.receipt_no, application.status, application.version)


_REVIEW_EVENTS: Final = {
    ReviewDecision.APPROVE: Event.APPROVE,
    ReviewDecision.RETURN: Event.RETURN,
    ReviewDecision.REJECT: Event.REJECT,
}
REVIEWER_ROLES: Final = (Role.COUNTER_STAFF, Role.SCHOOL_REVIEWER, Role.BUREAU_OFFICER)


async def review_application(
    rt: Runtime, command: ReviewApplication, principal: Principal | None
) -> StatusChanged:
    """Record a review decision and apply the matching event.

    :raises Forbidden: not a reviewer, or this reviewer's role may not decide this step.
    :raises NotFound: no such application in the reviewer's scope.
    :raises InvalidTransition, Conflict, InvalidInput: as their names say; nothing changes.
    """
    actor = require_role(principal, *REVIEWER_ROLES)
    message = f"审核意见不超过{MAX_COMMENT}字，且不能含控制字符"
    validate_text(command.comment, field="comment", max_length=MAX_COMMENT, message=message)

    def review(uow: UnitOfWork) -> StatusChanged:
        case = visible(
            actor, load_case(uow, command.application_id), uow.cipher, field="applicationId"
        )
        step = case.application.status
        event = _REVIEW_EVENTS[command.decision]
        route = routing.route_of(case.season.policy)
        if step is Status.MANUAL_REVIEW and event is Event.APPROVE:
            event = routing.after_manual_confirmation(route, has_school=case.school is not None)
        elif step is Status.SCHOOL_REVIEW and event is Event.APPROVE:
            event = routing.after_school_approval(route)
        apply_event(
            uow,
            case,
            event,
            actor,
            comment=command.comment,
            expected_version=command.expected_version,
        )
        uow.insert_at_commit(
            Review(
                application_id=case.id,
                step=step,
                decision=command.decision,
                comment=command.comment,
                reviewer=actor.id,
                at=uow.now,
            )
        )
        uow.commit()
        return StatusChanged.of(case)

    return await rt.write(review)


@dataclass(frozen=True, slots=True)
class WithdrawApplication:
    """Command: withdraw an application not yet decided."""

    application_id: int
    expected_version: int | None = None


async def withdraw_application(
    rt: Runtime, command: WithdrawApplication, principal: Principal | None
) -> StatusChanged:
    """The guardian (or counter staff for them) withdraws an application not yet decided.

    :raises Forbidden, NotFound, InvalidTransition, Conflict: nothing changes.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)

    def withdraw(uow: UnitOfWork) -> StatusChanged:
        case = visible(
            actor, load_case(uow, command.application_id), uow.cipher, field="applicationId"
        )
        apply_event(uow, case, Event.WITHDRAW, actor, expected_version=command.expected_version)
        uow.commit()
        return StatusChanged.of(case)

    return await rt.write(withdraw)


@dataclass(frozen=True, slots=True)
class CorrectApplication:
    """Command: after a failed check (退回补正), the guardian corrects the declared address
    (and, when the hukou contradicted it, the declared relationship) and resubmits;
    verification runs again."""

    application_id: int
    address: str
    township_code: str | None = None
    expected_version: int | None = None
    relationship: Relationship | None = None


async def correct_application(
    rt: Runtime, command: CorrectApplication, principal: Principal | None
) -> StatusChanged:
    """Apply the correction and resubmit (``needs_correction`` → ``submitted``).

    :raises InvalidInput, Forbidden, NotFound, InvalidTransition, Conflict: nothing changes.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    address = validate_address(command.address, field="address")
    if command.township_code:
        message = "乡镇（街道）代码格式不正确"
        validate_code(command.township_code, field="townshipCode", message=message)

    def correct(uow: UnitOfWork) -> StatusChanged:
        case = visible(
            actor, load_case(uow, command.application_id), uow.cipher, field="applicationId"
        )
        changes: dict[str, object] = {
            "address_ct": uow.cipher.encrypt(address, purpose="application.address")
        }
        if command.relationship is not None:
            changes["relationship"] = command.relationship
        if command.township_code and command.township_code != case.application.township_code:
            if actor.role is Role.COUNTER_STAFF:
                raise Forbidden("窗口工作人员不能把申请转到其他乡镇")
            _require_township(uow, command.township_code)
            changes["township_code"] = command.township_code
        apply_event(
            uow,
            case,
            Event.CORRECT,
            actor,
            comment="补正住址" if command.relationship is None else "补正住址和监护关系",
            expected_version=command.expected_version,
            changes=changes,
        )
        uow.commit()
        return StatusChanged.of(case)

    return await rt.write(correct)


def _require_township(uow: UnitOfWork, code: str) -> None:
    found = uow.session.exec(
        select(Region.id).where(col(Region.code) == code, col(Region.level) == "township")
    ).first()
    if found is None:
        raise InvalidInput("所选乡镇（街道）不在本招生季的范围内", field="townshipCode")
