"""Per-school publication lists (录取名单公示): receipt numbers and masked names, as CSV or
XLSX, of the children a school admitted in a season."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Admission, Application, Child, School
from ruxue_core.domain.enums import STATUS_LABELS, Role
from ruxue_core.errors import NotFound
from ruxue_core.permissions import require_role
from ruxue_core.placement.model import Tier
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_code
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_name
from ruxue_core.services.lottery_draws import season_by_code
from ruxue_core.uow import UnitOfWork

HEADER: Final = ("序号", "办件编号", "姓名", "录取学校", "录取方式", "录取通知书编号", "状态")


@dataclass(frozen=True, slots=True)
class ListRow:
    """One admitted child as published: never a full name or an ID number."""

    receipt_no: str
    child: str
    school: str
    tier: str
    notice_no: str
    status: str


async def publication_list(
    rt: Runtime, season_code: str, school_code: str, principal: Principal | None
) -> list[ListRow]:
    """The school's admitted children of the season (bureau any school; a school its own).

    :raises NotFound: no such season or school, or a school reviewer asking for another.
    """
    actor = require_role(
        principal, Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR, Role.SYSTEM, Role.SCHOOL_REVIEWER
    )
    validate_code(school_code, field="schoolCode", message="学校编码格式不正确")
    if actor.role is Role.SCHOOL_REVIEWER and actor.school_code != school_code:
        raise NotFound("学校不存在", field="schoolCode")

    def read(uow: UnitOfWork) -> list[ListRow]:
        season = season_by_code(uow, season_code)
        known = sa.select(col(School.id)).where(col(School.code) == school_code)
        if uow.session.execute(known).first() is None:
            raise NotFound("学校不存在", field="schoolCode")
        rows = uow.session.execute(
            sa.select(Application, col(Child.name), col(School.name), Admission)
            .join(Admission, col(Admission.application_id) == Application.id)
            .join(School, col(School.id) == Admission.school_id)
            .join(Child, col(Child.id) == Application.child_id)
            .where(col(Application.season_id) == season.id, col(School.code) == school_code)
            .order_by(col(Application.receipt_no))
        ).all()
        return [
            ListRow(
                application.receipt_no,
                mask_name(child),
                school,
                _tier_label(admission.tier),
                admission.notice_no,
                STATUS_LABELS[application.status],
            )
            for application, child, school, admission in rows
        ]

    return await rt.read(read)


def _tier_label(tier: str | None) -> str:
    if tier is not None and tier in Tier.__members__.values():
        return Tier(tier).label
    return "统筹安排"


def to_csv(rows: list[ListRow]) -> str:
    """The list as UTF-8 CSV text (with a BOM, which spreadsheet programs expect)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for n, r in enumerate(rows, start=1):
        writer.writerow((n, r.receipt_no, r.child, r.school, r.tier, r.notice_no, r.status))
    return "\ufeff" + out.getvalue()


def to_xlsx(rows: list[ListRow]) -> bytes:
    """The list as an XLSX workbook (one sheet, 录取名单)."""
    from openpyxl import Workbook  # only here: keeps every command's start-up light

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "录取名单"
    sheet.append(HEADER)
    for n, r in enumerate(rows, start=1):
        sheet.append((n, r.receipt_no, r.child, r.school, r.tier, r.notice_no, r.status))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
