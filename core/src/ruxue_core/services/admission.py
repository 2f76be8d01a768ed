"""Publication and enrollment: a run's results become admissions (电子录取通知书) or
coordination in one transaction; schools confirm enrollment (报到) or record no-shows; the
bureau places a coordinating child at a school with room."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Admission, Application, CareClaim, PlacementRun, School, Season
from ruxue_core.domain.enums import Role, Status
from ruxue_core.errors import Conflict, Ineligible, InvalidInput, InvalidTransition, NotFound
from ruxue_core.lifecycle import Case, Event, apply_event, case_query, load_case
from ruxue_core.permissions import require_role, visible
from ruxue_core.phases import Phase, require_phase
from ruxue_core.placement.model import UnplacedReason
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_code
from ruxue_core.runtime import Runtime
from ruxue_core.services.lottery_draws import PLACEMENT_ROLES
from ruxue_core.services.placement import MAIN, load_run, results_of
from ruxue_core.services.placement_inputs import taken_seats
from ruxue_core.uow import UnitOfWork

PUBLISHED: Final = "published"


@dataclass(frozen=True, slots=True)
class Published:
    """What a publication did: admitted, sent to coordination, skipped (no longer waiting)."""

    run_id: int
    admitted: int
    coordinating: int
    skipped: int


@dataclass(frozen=True, slots=True)
class EnrollmentChanged:
    """An application after an enrollment step."""

    application_id: int
    status: Status
    version: int
    school_code: str | None
    notice_no: str | None


class _Notices:
    """Admission notice numbers: ``<prefix><year>-<school>-<nnnn>``, counted per school."""

    def __init__(self, uow: UnitOfWork, season: Season) -> None:
        self.prefix = f"{PlacementPolicy.of(season.policy).notice_prefix}{season.year}"
        rows = uow.session.execute(
            sa.select(col(Admission.school_id), sa.func.count()).group_by(col(Admission.school_id))
        ).all()
        self.issued: dict[int, int] = dict(rows)

    def next(self, school: School) -> str:
        assert school.id is not None
        self.issued[school.id] = self.issued.get(school.id, 0) + 1
        return f"{self.prefix}-{school.code}-{self.issued[school.id]:04d}"


def _admit(
    uow: UnitOfWork,
    case: Case,
    school: School,
    actor: Principal,
    notices: _Notices,
    *,
    run_id: int | None,
    tier: str | None,
    comment: str,
) -> None:
    case.school = school
    case.notice_no = notices.next(school)
    apply_event(uow, case, Event.ADMIT, actor, comment=comment, changes={"school_id": school.id})
    uow.insert_at_commit(
        Admission(
            application_id=case.id,
            school_id=school.id or 0,
            run_id=run_id,
            notice_no=case.notice_no,
            tier=tier,
            admitted_at=uow.now,
        )
    )


def _guard_publication(uow: UnitOfWork, run: PlacementRun, season: Season) -> str | None:
    if run.status != "draft":
        raise InvalidTransition("该派位方案已公布，不能重复公布", field="runId")
    if run.kind != MAIN:
        return None
    key = f"season-{season.id}-main"
    taken = uow.session.exec(select(PlacementRun).where(PlacementRun.published_key == key)).first()
    if taken is not None:
        raise InvalidTransition("本招生季的派位结果已公布，只能统筹安排", field="runId")
    return key


async def publish_placement(rt: Runtime, run_id: int, principal: Principal | None) -> Published:
    """Publish a draft run in one transaction: each result's application is admitted (with
    its notice number, SMS and provincial result record) or, in a main run, sent to
    coordination; a coordination run leaves the unplaced where they are. Applications that
    left the awaited status since the run are skipped. Publishing again is refused.

    :raises Forbidden, NotFound: as named. :raises InvalidTransition: already published, or
        the season's main placement was published from another run.
    """
    actor = require_role(principal, *PLACEMENT_ROLES)

    def publish(uow: UnitOfWork) -> Published:
        run, season = load_run(uow, run_id)
        if run.kind == MAIN:
            require_phase(season, Phase.PUBLICATION, uow.now, field="runId")
        else:
            require_phase(season, Phase.PUBLICATION, uow.now, until=Phase.ENROLLMENT, field="runId")
        key = _guard_publication(uow, run, season)
        try:
            matched = uow.session.execute(
                sa.update(PlacementRun)
                .where(col(PlacementRun.id) == run_id, col(PlacementRun.status) == "draft")
                .values(
                    status=PUBLISHED,
                    published_by=actor.id,
                    published_at=uow.now,
                    published_key=key,
                )
            )
        except IntegrityError:  # another run of the season was published meanwhile
            raise InvalidTransition(
                "本招生季的派位结果已公布，只能统筹安排", field="runId"
            ) from None
        if getattr(matched, "rowcount", 0) != 1:
            raise InvalidTransition("该派位方案已公布，不能重复公布", field="runId")
        schools = {s.code: s for s in uow.session.exec(select(School)).all()}
        notices = _Notices(uow, season)
        awaited = Status.APPROVED if run.kind == MAIN else Status.COORDINATING
        admitted = coordinating = skipped = 0
        results = results_of(uow, run_id)
        cases = _cases(uow, [r.application_id for r in results])
        for result in results:
            case = cases.get(result.application_id)
            if case is None or case.application.status is not awaited:
                skipped += 1
                continue
            if result.school_code is not None:
                school = schools[result.school_code]
                comment = f"派位录取（方案 {run_id}）"
                _admit(
                    uow,
                    case,
                    school,
                    actor,
                    notices,
                    run_id=run_id,
                    tier=result.tier,
                    comment=comment,
                )
                admitted += 1
            elif run.kind == MAIN:
                reason = UnplacedReason(result.reason or UnplacedReason.ALL_FULL).label
                apply_event(uow, case, Event.COORDINATE, actor, comment=reason)
                coordinating += 1
        counts = {"admitted": admitted, "coordinating": coordinating, "skipped": skipped}
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "placement.publish",
                "placement_run",
                str(run_id),
                {"season": season.code, "kind": run.kind, **counts},
                at=uow.now,
            )
        )
        uow.commit()
        return Published(run_id, admitted, coordinating, skipped)

    return await rt.write(publish)


def _cases(uow: UnitOfWork, ids: list[int]) -> dict[int, Case]:
    """The cases of a run's applications in one statement (not one per application)."""
    rows = uow.session.execute(case_query().where(col(Application.id).in_(ids))).all()
    return {row[0].id: Case(*row) for row in rows}


def _admission(uow: UnitOfWork, application_id: int) -> Admission:
    admission = uow.session.exec(
        select(Admission).where(Admission.application_id == application_id)
    ).first()
    if admission is None:  # an admitted application always has one
        raise NotFound("录取记录不存在", field="applicationId")
    return admission


def _changed(case: Case, notice_no: str | None) -> EnrollmentChanged:
    application = case.application
    return EnrollmentChanged(
        case.id,
        application.status,
        application.version,
        case.school.code if case.school else None,
        notice_no,
    )


async def confirm_enrollment(
    rt: Runtime,
    application_id: int,
    principal: Principal | None,
    *,
    no_show: bool = False,
    expected_version: int | None = None,
) -> EnrollmentChanged:
    """The admitting school confirms the child reported (报到 → ``enrolled``), or records a
    no-show (``no_show``), whose seat then counts as free for coordination.

    :raises Forbidden, NotFound, InvalidTransition, Conflict: nothing changes.
    """
    actor = require_role(principal, Role.SCHOOL_REVIEWER)

    def step(uow: UnitOfWork) -> EnrollmentChanged:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        require_phase(case.season, Phase.ENROLLMENT, uow.now, field="applicationId")
        event = Event.MARK_NO_SHOW if no_show else Event.ENROLL
        apply_event(uow, case, event, actor, expected_version=expected_version)
        admission = _admission(uow, application_id)
        if no_show:
            admission.no_show_at = uow.now
        else:
            admission.enrolled_at = uow.now
        uow.session.add(admission)
        uow.commit()
        return _changed(case, admission.notice_no)

    return await rt.write(step)


async def place_coordinated(
    rt: Runtime,
    application_id: int,
    school_code: str,
    principal: Principal | None,
    *,
    expected_version: int | None = None,
) -> EnrollmentChanged:
    """The bureau places a coordinating child (统筹) at a school of the season's stage that
    still has room (its plan less admissions, no-shows' seats counted free).

    :raises Ineligible: the school has no room, or is of another stage.
    :raises NotFound: no such school (``schoolCode``) or application.
    """
    actor = require_role(principal, *PLACEMENT_ROLES)
    validate_code(school_code, field="schoolCode", message="学校编码格式不正确")

    def place(uow: UnitOfWork) -> EnrollmentChanged:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        school = uow.session.exec(select(School).where(School.code == school_code)).first()
        if school is None or school.id is None:
            raise NotFound("学校不存在", field="schoolCode")
        if school.stage != case.season.stage:
            raise Ineligible("该校不招收本学段学生", field="schoolCode")
        require_phase(
            case.season, Phase.PUBLICATION, uow.now, until=Phase.ENROLLMENT, field="applicationId"
        )
        if case.application.status is not Status.COORDINATING:
            raise InvalidTransition("只有统筹中的申请可以统筹安排", field="applicationId")
        if taken_seats(uow).get(school.id, 0) >= school.plan:
            raise Ineligible("该校已无空余学位", field="schoolCode")
        if expected_version is not None and case.application.version != expected_version:
            raise Conflict()
        notices = _Notices(uow, case.season)
        _admit(uow, case, school, actor, notices, run_id=None, tier="manual", comment="统筹安排")
        uow.commit()
        return _changed(case, case.notice_no)

    return await rt.write(place)


async def record_care_claim(
    rt: Runtime, application_id: int, kind: str, principal: Principal | None
) -> None:
    """The bureau confirms an approved application's policy-care kind (政策性照顾), which the
    next run ranks first for that kind's reserved seats; recording again replaces the kind.

    :raises InvalidInput: a kind the season's ``[placement.quotas]`` does not define.
    :raises InvalidTransition: the application is not awaiting placement (``approved``).
    """
    actor = require_role(principal, *PLACEMENT_ROLES)
    validate_code(kind, field="kind", message="照顾类别编码格式不正确")

    def record(uow: UnitOfWork) -> None:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        kinds = {q.kind for q in PlacementPolicy.of(case.season.policy).quotas}
        if kind not in kinds:
            raise InvalidInput(f"本招生季没有照顾类别 {kind}", field="kind")
        if case.application.status is not Status.APPROVED:
            raise InvalidTransition("只有审核通过、尚未派位的申请可以登记政策性照顾", field="kind")
        claim = uow.session.exec(
            select(CareClaim).where(CareClaim.application_id == application_id)
        ).first() or CareClaim(application_id=application_id, kind=kind, recorded_by=actor.id)
        claim.kind, claim.recorded_by, claim.recorded_at = kind, actor.id, uow.now
        claim.status = "confirmed"
        uow.session.add(claim)
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "placement.care_claim",
                "application",
                case.application.receipt_no,
                {"kind": kind},
                at=uow.now,
            )
        )
        uow.commit()

    await rt.write(record)
