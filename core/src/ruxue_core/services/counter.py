"""Counter intake (线下窗口受理): staff enter the form on the family's behalf, record the
consent the family signed on paper and the originals they saw, so the family never has to
come twice (只跑一次). The application's channel is ``counter``: its SMS use the season's
counter templates, which never ask the family to log in or to come again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ruxue_core.domain.enums import Role
from ruxue_core.errors import InvalidInput
from ruxue_core.lifecycle import Case
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    SubmitApplication,
    Submitted,
    submit_form,
    validate_form,
)
from ruxue_core.services.materials import record_originals
from ruxue_core.services.views import material_names
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CreateCounterApplication:
    """Command: the form as the family gave it at the counter, with ``consent`` (the family
    signed the consent form on paper) and ``materials_seen`` (codes of the season's
    materials whose originals the staff checked)."""

    form: SubmitApplication
    materials_seen: tuple[str, ...] = ()


async def create_counter_application(
    rt: Runtime, command: CreateCounterApplication, principal: Principal | None
) -> Submitted:
    """Submit an application at the counter of the staff member's own township.

    :raises Forbidden: not counter staff, or another township.
    :raises InvalidInput: a malformed field (named), or a material code the season lacks.
    :raises Ineligible, Duplicate: as ``submitApplication`` (the idempotency key too).
    """
    actor = require_role(principal, Role.COUNTER_STAFF)
    if len(command.materials_seen) > 20:
        raise InvalidInput("材料清单过长", field="materialsSeen")
    seen = tuple(dict.fromkeys(command.materials_seen))
    form = validate_form(replace(command.form, paper_seen=seen), actor)

    def create(uow: UnitOfWork) -> Submitted:
        def record(case: Case) -> None:
            names = material_names(case.season.policy)
            unknown = sorted(set(seen) - set(names))
            if unknown:
                message = f"不是本招生季的材料：{'、'.join(unknown)}"
                raise InvalidInput(message, field="materialsSeen")
            record_originals(uow, case, actor, seen)

        return submit_form(uow, form, actor, after=record)

    return await rt.write(create)
