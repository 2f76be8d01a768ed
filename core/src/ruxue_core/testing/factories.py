"""Ready-made principals and commands for tests (Ruxue's own and plugin authors')."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Final

from ruxue_core.domain.enums import Relationship, Role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.services.applications import PersonInput, SubmitApplication

GUARDIAN: Final = Principal("guardian-1", Role.GUARDIAN, "张三")
OTHER_GUARDIAN: Final = Principal("guardian-2", Role.GUARDIAN, "钱四")
COUNTER: Final = Principal("counter-1", Role.COUNTER_STAFF, "赵窗口", region_code="420704101")
SCHOOL_REVIEWER: Final = Principal(
    "reviewer-1", Role.SCHOOL_REVIEWER, "李老师", school_code="LK-YJ-01"
)
BUREAU: Final = Principal("bureau-1", Role.BUREAU_OFFICER, "王科长")
AUDITOR: Final = Principal("auditor-1", Role.AUDITOR, "孙审计")

_sequence = count(1)


def child_id_number(n: int | None = None, born: date = date(2020, 3, 15)) -> str:
    """A valid synthetic child ID number; ``n`` picks the sequence (unique per call if omitted)."""
    return make_national_id("420704", born, (n if n is not None else next(_sequence)) % 1000)


def submit_command(
    season_code: str,
    *,
    child_id: str | None = None,
    guardian_id: str = "420704198501011233",
    phone: str = "13812345678",
    address: str = "燕矶镇新街10号",
) -> SubmitApplication:
    """A valid submission for the sample season, varied by the arguments."""
    return SubmitApplication(
        season_code=season_code,
        child=PersonInput("张小明", child_id or child_id_number()),
        guardian=PersonInput("张三", guardian_id),
        guardian_phone=phone,
        relationship=Relationship.FATHER,
        address=address,
        township_code="420704101",
    )
