"""Live updates of one application's status, for its family and for staff within scope.

:func:`follow_application` checks who may follow the application, subscribes to the process's
:class:`~ruxue_core.changefeed.ChangeFeed` and yields the current status first, then every
committed change, each re-checked against the caller's scope (an application that left a
school reviewer's school stops being followed). Updates carry the status, its time and the
receipt number: no personal data.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from ruxue_core.changefeed import StatusChange
from ruxue_core.domain.enums import STATUS_LABELS, Role, Status
from ruxue_core.errors import Forbidden
from ruxue_core.lifecycle import load_case
from ruxue_core.permissions import STAFF_ROLES, require_role, visible
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """An application's status at one moment; ``previous_status`` is ``None`` for the first
    update of a subscription (the status when it began)."""

    application_id: int
    receipt_no: str
    status: Status
    status_label: str
    previous_status: Status | None
    version: int
    at: datetime


async def current_status(
    runtime: Runtime, principal: Principal | None, application_id: int
) -> StatusUpdate:
    """The application's status now, if the principal may see the application.

    :raises Forbidden: not signed in, or a role that follows no application.
    :raises NotFound: no such application, or not one the principal may see (alike).
    """
    actor = require_role(principal, Role.GUARDIAN, *STAFF_ROLES)

    def read(uow: UnitOfWork) -> StatusUpdate:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="id")
        application = case.application
        return StatusUpdate(
            application_id=case.id,
            receipt_no=application.receipt_no,
            status=application.status,
            status_label=STATUS_LABELS[application.status],
            previous_status=None,
            version=application.version,
            at=application.updated_at,
        )

    return await runtime.read(read)


async def follow_application(
    runtime: Runtime,
    principal: Principal | None,
    application_id: int,
    *,
    reauthenticate: Callable[[], Awaitable[Principal | None]],
) -> AsyncGenerator[StatusUpdate, None]:
    """The application's status now, then each committed change until the feed closes.

    Before each change is passed on, ``reauthenticate`` must still vouch for the same
    principal (the session not ended or expired), and the application must still be in scope.

    :raises Forbidden: not signed in, or the session ended meanwhile.
    :raises NotFound: not an application the principal may see (or no longer).
    :raises RateLimited: the caller follows too many applications already.
    """
    first = await current_status(runtime, principal, application_id)
    assert principal is not None  # current_status refused anonymity
    subscription = await runtime.changes.subscribe(first.receipt_no, principal.id)
    try:
        # A change committed between the read above and the subscription is not missed:
        # read again now that the feed is listening; versions only grow.
        now = await current_status(runtime, principal, application_id)
        yield now
        seen = now.version
        async for change in subscription.changes():
            if change.version <= seen:
                continue
            if await reauthenticate() != principal:
                raise Forbidden("登录已过期，请重新登录后订阅")
            await current_status(runtime, principal, application_id)
            seen = change.version
            yield update_from(first.application_id, change)
    finally:
        subscription.close()


def update_from(application_id: int, change: StatusChange) -> StatusUpdate:
    """The update a committed change makes."""
    return StatusUpdate(
        application_id=application_id,
        receipt_no=change.receipt_no,
        status=change.status,
        status_label=STATUS_LABELS[change.status],
        previous_status=change.previous_status,
        version=change.version,
        at=change.at,
    )
