"""Applications that ask for materials, and sample files, for the upload tests."""

from __future__ import annotations

from typing import Final

from ruxue_core.domain import Assessment
from ruxue_core.domain.enums import Status
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.testing.factories import GUARDIAN, child_id_number, submit_command
from ruxue_core.uow import UnitOfWork

SECRET_TEXT: Final = "户口簿 张三 420704198501011233".encode()
PDF: Final = b"%PDF-1.7\n" + SECRET_TEXT + b"\n%%EOF\n"
PNG: Final = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ASKED: Final = ("hukou_book", "property_certificate")
ROUTES: Final = {
    Status.SUBMITTED: (),
    Status.MANUAL_REVIEW: (Event.START_VERIFICATION, Event.REFER_TO_MANUAL),
    Status.NEEDS_CORRECTION: (Event.START_VERIFICATION, Event.FAIL_VERIFICATION),
}


def ask_for_materials(uow: UnitOfWork, application_id: int) -> None:
    """Record an assessment (manual review) asking for :data:`ASKED` (not committed)."""
    uow.session.add(
        Assessment(
            application_id=application_id,
            decision="manual_review",
            reason_code="undecidable",
            reason="共享数据无法判断",
            materials=list(ASKED),
        )
    )


async def application_in(rt: Runtime, season: str, status: Status) -> int:
    """A new application of GUARDIAN (township 420704101) in ``status`` whose assessment
    asks for :data:`ASKED`; returns its id."""
    command = submit_command(season, child_id=child_id_number())
    application_id = (await submit_application(rt, command, GUARDIAN)).application_id

    def advance(uow: UnitOfWork) -> None:
        for event in ROUTES[status]:
            case = load_case(uow, application_id)
            assert case is not None
            apply_event(uow, case, event, Principal.system())
        ask_for_materials(uow, application_id)
        uow.commit()

    await rt.write(advance)
    return application_id
