"""Lists of applications: the staff work list, a guardian's own applications, and the batch
reads of what hangs off an application (evidence, assessment, consent, reviews, materials) for
a page of them.

Every list is cut by the one permission policy's SQL form
(:func:`ruxue_core.permissions.scope_clause`), so a list never shows what ``application(id)``
would hide. Pages are keyset pages in a stable order (oldest application first, by id): a page
costs one statement however deep the caller pages, and rows written meanwhile never shift it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, func

from ruxue_core.domain import (
    Application,
    Assessment,
    Consent,
    Evidence,
    Material,
    Review,
    School,
    Season,
)
from ruxue_core.domain.enums import STATUS_LABELS, Channel, ReviewDecision, Role, Status
from ruxue_core.errors import InvalidInput
from ruxue_core.lifecycle import Case, case_query
from ruxue_core.permissions import STAFF_ROLES, require_role, scope_clause
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import CODE
from ruxue_core.runtime import Runtime
from ruxue_core.services.views import (
    ApplicationView,
    AssessmentView,
    EvidenceView,
    application_view,
    assessment_view,
    evidence_view,
    material_names,
)
from ruxue_core.uow import UnitOfWork

DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 100
MAX_BATCH: Final = 500
"""At most this many applications' parts in one batch read (a few pages' worth)."""
RECEIPT_PREFIX: Final = re.compile(r"[0-9A-Za-z-]{1,32}")

M = TypeVar("M", Evidence, Review, Material, Consent)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    """What a work list is narrowed to; every field left empty narrows nothing.

    Each criterion is one field here and one clause in :func:`_clauses`.

    :ivar statuses: any of these states.
    :ivar township_code: the application's township (乡镇/街道).
    :ivar school_code: the school assigned to the application (none assigned: not matched).
    :ivar channel: online or counter.
    :ivar receipt_no_prefix: the receipt number (办件编号) starts with this.
    :ivar season_code: the season applied for.
    :ivar category: the category (入学类别) of the latest assessment.
    :ivar outstanding_materials: ``True``: some material the latest assessment asks for is
        neither uploaded nor seen at the counter; ``False``: none is.
    :ivar outstanding_material: that very material (a code) is outstanding.
    """

    statuses: tuple[Status, ...] = ()
    township_code: str | None = None
    school_code: str | None = None
    channel: Channel | None = None
    receipt_no_prefix: str | None = None
    season_code: str | None = None
    category: str | None = None
    outstanding_materials: bool | None = None
    outstanding_material: str | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A forward keyset page: ``first`` items after the application with id ``after``."""

    first: int = DEFAULT_PAGE
    after: int | None = None


@dataclass(frozen=True, slots=True)
class ApplicationPage:
    """One page of masked applications, oldest first, and whether more follow."""

    items: tuple[ApplicationView, ...]
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class ReviewView:
    """A reviewer's decision as shown; the reviewer's id only to staff."""

    step: Status
    step_label: str
    decision: ReviewDecision
    comment: str
    reviewer: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class MaterialView:
    """An uploaded material's description (its content is fetched separately)."""

    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


async def list_applications(
    rt: Runtime, filters: ApplicationFilter, page: PageRequest, principal: Principal | None
) -> ApplicationPage:
    """The staff work list: applications within the caller's scope matching ``filters``.

    :raises Forbidden: not staff.
    :raises InvalidInput: a malformed filter or page (``field`` names it).
    """
    actor = require_role(principal, *STAFF_ROLES)
    _check(filters, page)
    return await rt.read(lambda uow: _page(uow, filters, page, actor))


async def my_applications(
    rt: Runtime, page: PageRequest, principal: Principal | None
) -> ApplicationPage:
    """The signed-in guardian's own family's applications.

    :raises Forbidden: not a guardian.
    :raises InvalidInput: a malformed page.
    """
    actor = require_role(principal, Role.GUARDIAN)
    filters = ApplicationFilter()
    _check(filters, page)
    return await rt.read(lambda uow: _page(uow, filters, page, actor))


def _check(filters: ApplicationFilter, page: PageRequest) -> None:
    if not 1 <= page.first <= MAX_PAGE:
        raise InvalidInput(f"每页条数应在 1 到 {MAX_PAGE} 之间", field="first")
    prefix = filters.receipt_no_prefix
    if prefix is not None and not RECEIPT_PREFIX.fullmatch(prefix):
        raise InvalidInput("办件编号只含字母、数字和连字符", field="filter.receiptNo")
    for name, value in (
        ("filter.townshipCode", filters.township_code),
        ("filter.schoolCode", filters.school_code),
        ("filter.seasonCode", filters.season_code),
        ("filter.category", filters.category),
        ("filter.outstandingMaterial", filters.outstanding_material),
    ):
        if value is not None and not CODE.fullmatch(value):
            raise InvalidInput("代码格式不正确", field=name)
    if len(filters.statuses) > len(Status):
        raise InvalidInput("状态过多", field="filter.statuses")


def _clauses(filters: ApplicationFilter, dialect: str) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if filters.category is not None:
        latest = aliased(Assessment)
        clauses.append(
            sa.exists().where(
                col(latest.application_id) == Application.id,
                col(latest.round) == latest_round(latest),
                col(latest.category) == filters.category,
            )
        )
    if filters.outstanding_materials is not None:
        some = outstanding_clause(dialect)
        clauses.append(some if filters.outstanding_materials else sa.not_(some))
    if filters.outstanding_material is not None:
        clauses.append(outstanding_clause(dialect, filters.outstanding_material))
    if filters.statuses:
        clauses.append(col(Application.status).in_(sorted(set(filters.statuses))))
    if filters.township_code is not None:
        clauses.append(col(Application.township_code) == filters.township_code)
    if filters.school_code is not None:
        school = sa.select(col(School.id)).where(col(School.code) == filters.school_code)
        clauses.append(col(Application.school_id).in_(school.scalar_subquery()))
    if filters.channel is not None:
        clauses.append(col(Application.channel) == filters.channel)
    if filters.receipt_no_prefix is not None:
        clauses.append(col(Application.receipt_no).startswith(filters.receipt_no_prefix))
    if filters.season_code is not None:
        clauses.append(col(Season.code) == filters.season_code)
    return clauses


def _page(
    uow: UnitOfWork, filters: ApplicationFilter, page: PageRequest, actor: Principal
) -> ApplicationPage:
    dialect = uow.session.get_bind().dialect.name
    statement = case_query().where(scope_clause(actor, uow.cipher), *_clauses(filters, dialect))
    if page.after is not None:
        statement = statement.where(col(Application.id) > page.after)
    statement = statement.order_by(col(Application.id)).limit(page.first + 1)
    rows = uow.session.execute(statement).all()
    views = tuple(application_view(uow, Case(*row)) for row in rows[: page.first])
    return ApplicationPage(views, has_next_page=len(rows) > page.first)


def latest_round(latest: type[Assessment]) -> sa.ScalarSelect[int]:
    """The latest assessment round of the application ``latest`` belongs to (correlated)."""
    newer = aliased(Assessment)
    return (
        sa.select(func.max(newer.round))
        .where(col(newer.application_id) == latest.application_id)
        .scalar_subquery()
    )


def outstanding_clause(dialect: str, code: str | None = None) -> sa.ColumnElement[bool]:
    """Whether the latest assessment asks for a material (``code``, or any) that is neither
    uploaded nor seen at the counter: a correlated ``EXISTS`` over the JSON list of codes (the
    rule of ``views.still_needed``, in SQL)."""
    latest = aliased(Assessment)
    function = func.json_array_elements_text if dialect == "postgresql" else func.json_each
    asked = function(col(latest.materials)).table_valued("value")
    provided = sa.exists().where(
        col(Material.application_id) == latest.application_id,
        col(Material.kind) == asked.c.value,
    )
    statement = (
        sa.select(sa.literal(1))
        .select_from(latest)
        .join(asked, sa.true())
        .where(
            col(latest.application_id) == Application.id,
            col(latest.round) == latest_round(latest),
            sa.not_(provided),
        )
    )
    if code is not None:
        statement = statement.where(asked.c.value == code)
    return statement.exists()


# --- what hangs off a page of applications, one statement each ------------------------------


async def evidence_for(
    rt: Runtime, application_ids: Collection[int], principal: Principal | None
) -> dict[int, tuple[EvidenceView, ...]]:
    """The department checks of each application the caller may see (others: none)."""
    actor = _reader(principal)

    def read(uow: UnitOfWork) -> dict[int, tuple[EvidenceView, ...]]:
        rows = _rows_of(uow, Evidence, application_ids, actor)
        return _grouped((e.application_id, evidence_view(uow.cipher, e)) for e in rows)

    return await rt.read(read)


async def assessments_for(
    rt: Runtime, application_ids: Collection[int], principal: Principal | None
) -> dict[int, tuple[AssessmentView, ...]]:
    """The latest assessment (what the season's rules concluded) of each application the
    caller may see: a tuple of one, or none yet."""
    actor = _reader(principal)

    def read(uow: UnitOfWork) -> dict[int, tuple[AssessmentView, ...]]:
        ids = _batch(application_ids)
        if not ids:
            return {}
        statement = (
            sa.select(Assessment, col(Season.policy))
            .join(Application, col(Application.id) == Assessment.application_id)
            .join(Season, col(Season.id) == Application.season_id)
            .where(col(Assessment.application_id).in_(ids), scope_clause(actor, uow.cipher))
            .order_by(col(Assessment.application_id), col(Assessment.round).desc())
        )
        latest: dict[int, tuple[AssessmentView, ...]] = {}
        for row, policy in uow.session.execute(statement):
            if row.application_id not in latest:
                latest[row.application_id] = (assessment_view(row, material_names(policy)),)
        return latest

    return await rt.read(read)


async def consents_for(
    rt: Runtime, application_ids: Collection[int], principal: Principal | None
) -> dict[int, tuple[str, ...]]:
    """The consent (授权核对) reference on record for each application the caller may see."""
    actor = _reader(principal)

    def read(uow: UnitOfWork) -> dict[int, tuple[str, ...]]:
        rows = _rows_of(uow, Consent, application_ids, actor)
        return _grouped((c.application_id, c.ref) for c in rows)

    return await rt.read(read)


async def reviews_for(
    rt: Runtime, application_ids: Collection[int], principal: Principal | None
) -> dict[int, tuple[ReviewView, ...]]:
    """The review decisions on each application the caller may see (others: none)."""
    actor = _reader(principal)
    staff = actor.role in STAFF_ROLES

    def read(uow: UnitOfWork) -> dict[int, tuple[ReviewView, ...]]:
        rows = _rows_of(uow, Review, application_ids, actor)
        return _grouped(
            (
                r.application_id,
                ReviewView(
                    r.step,
                    STATUS_LABELS[r.step],
                    r.decision,
                    r.comment,
                    r.reviewer if staff else None,
                    r.at,
                ),
            )
            for r in rows
        )

    return await rt.read(read)


async def materials_for(
    rt: Runtime, application_ids: Collection[int], principal: Principal | None
) -> dict[int, tuple[MaterialView, ...]]:
    """The materials uploaded for each application the caller may see (others: none)."""
    actor = _reader(principal)

    def read(uow: UnitOfWork) -> dict[int, tuple[MaterialView, ...]]:
        rows = _rows_of(uow, Material, application_ids, actor)
        return _grouped(
            (
                m.application_id,
                MaterialView(m.kind, m.filename, m.content_type, m.size, m.sha256, m.uploaded_at),
            )
            for m in rows
        )

    return await rt.read(read)


def _reader(principal: Principal | None) -> Principal:
    return require_role(principal, Role.GUARDIAN, *STAFF_ROLES)


def _rows_of(
    uow: UnitOfWork,
    model: type[M],
    application_ids: Collection[int],
    actor: Principal,
) -> Sequence[M]:
    ids = _batch(application_ids)
    if not ids:
        return ()
    owner = col(model.application_id)
    statement = (
        sa.select(model)
        .join(Application, col(Application.id) == owner)
        .where(owner.in_(ids), scope_clause(actor, uow.cipher))
        .order_by(owner, col(model.id))
    )
    return uow.session.scalars(statement).all()


def _batch(application_ids: Collection[int]) -> list[int]:
    ids = sorted(set(application_ids))
    if len(ids) > MAX_BATCH:
        raise InvalidInput("一次查询的申请过多", field="id")
    return ids


def _grouped(pairs: Iterable[tuple[int, V]]) -> dict[int, tuple[V, ...]]:
    groups: defaultdict[int, list[V]] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return {key: tuple(values) for key, values in groups.items()}
