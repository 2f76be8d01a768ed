"""Ready-made principals and commands for tests (Ruxue's own and plugin authors').

Every principal here has the scope its role needs in the sample season (临空经济区 2026 小学):
guardians carry a verified real-name ID number, counter staff a township, school reviewers a
school. ``OTHER_*`` principals hold the same role with another scope.
"""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Final

from ruxue_core.domain.enums import Relationship, Role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.services.applications import PersonInput, SubmitApplication

GUARDIAN_ID: Final = "420704198501011233"
OTHER_GUARDIAN_ID: Final = make_national_id("420704", date(1986, 6, 6), 44)

GUARDIAN: Final = Principal("guardian-1", Role.GUARDIAN, "张三", verified_id_number=GUARDIAN_ID)
OTHER_GUARDIAN: Final = Principal(
    "guardian-2", Role.GUARDIAN, "钱四", verified_id_number=OTHER_GUARDIAN_ID
)
UNVERIFIED_GUARDIAN: Final = Principal("guardian-3", Role.GUARDIAN, "孙五")
COUNTER: Final = Principal("counter-1", Role.COUNTER_STAFF, "赵窗口", region_code="420704101")
OTHER_COUNTER: Final = Principal("counter-2", Role.COUNTER_STAFF, "钱窗口", region_code="420704102")
SCHOOL_REVIEWER: Final = Principal(
    "reviewer-1", Role.SCHOOL_REVIEWER, "李老师", school_code="LK-YJ-01"
)
OTHER_SCHOOL_REVIEWER: Final = Principal(
    "reviewer-2", Role.SCHOOL_REVIEWER, "周老师", school_code="LK-YY-01"
)
BUREAU: Final = Principal("bureau-1", Role.BUREAU_OFFICER, "王科长")
ADMIN: Final = Principal("admin-1", Role.ADMIN, "吴管理")
AUDITOR: Final = Principal("auditor-1", Role.AUDITOR, "孙审计")

_sequence = count(1)


def child_id_number(n: int | None = None, born: date = date(2020, 3, 15)) -> str:
    """A valid synthetic child ID number; ``n`` picks the sequence (unique per call if omitted)."""
    return make_national_id("420704", born, (n if n is not None else next(_sequence)) % 1000)


def submit_command(
    season_code: str,
    *,
    child_id: str | None = None,
    guardian_id: str = GUARDIAN_ID,
    guardian_name: str = "张三",
    phone: str = "13812345678",
    address: str = "燕矶镇新街10号",
    township_code: str = "420704101",
    consent: bool = True,
) -> SubmitApplication:
    """A valid submission for the sample season by :data:`GUARDIAN`, varied by the arguments
    (with the family's consent to check its data unless ``consent=False``)."""
    return SubmitApplication(
        season_code=season_code,
        child=PersonInput("张小明", child_id or child_id_number()),
        guardian=PersonInput(guardian_name, guardian_id),
        guardian_phone=phone,
        relationship=Relationship.FATHER,
        address=address,
        township_code=township_code,
        consent=consent,
    )
