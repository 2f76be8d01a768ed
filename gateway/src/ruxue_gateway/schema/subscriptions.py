"""Subscriptions: live status updates of one application, over graphql-transport-ws.

A refusal (not signed in, not yours, too many subscriptions, the session ended) is one typed
error result, after which the subscription completes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from ruxue_core.domain.enums import Status
from ruxue_core.errors import RuxueError
from ruxue_core.plugins.contracts import Principal
from ruxue_core.services.updates import StatusUpdate, follow_application
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _enums  # noqa: F401 - registers the enums
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ERROR_TYPES,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)


@strawberry.type(description="An application's status at one moment (no personal data).")
class ApplicationUpdate:
    """The first update is the status when the subscription began (``previousStatus`` null);
    each later one is a committed change."""

    application_id: strawberry.ID
    receipt_no: str
    status: Status
    status_label: str
    previous_status: Status | None
    version: int
    at: datetime

    @classmethod
    def from_update(cls, update: StatusUpdate) -> ApplicationUpdate:
        """Map the core's update."""
        return cls(
            application_id=strawberry.ID(str(update.application_id)),
            receipt_no=update.receipt_no,
            status=update.status,
            status_label=update.status_label,
            previous_status=update.previous_status,
            version=update.version,
            at=update.at,
        )


ApplicationUpdateResult = Annotated[
    ApplicationUpdate | InvalidInputError | ForbiddenError | NotFoundError | RateLimitedError,
    strawberry.union("ApplicationUpdateResult"),
]


def _error(
    exc: RuxueError,
) -> InvalidInputError | ForbiddenError | NotFoundError | RateLimitedError:
    """The typed result of a refusal the subscription declares (anything else is a fault)."""
    for error_type in (InvalidInputError, ForbiddenError, NotFoundError, RateLimitedError):
        if ERROR_TYPES.get(type(exc)) is error_type:
            return error_type(code=exc.code, message=exc.message, field=exc.field)
    raise exc


@strawberry.type(description="Live updates, over WebSocket (graphql-transport-ws).")
class Subscription:
    """All subscriptions."""

    @strawberry.subscription(
        description="办件状态变化: the status now, then each change (the family's own "
        "application, or staff within scope)."
    )
    async def application_updates(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> AsyncGenerator[ApplicationUpdateResult, None]:
        """Follow one application's status."""
        context = info.context
        runtime = context.runtime

        async def reauthenticate() -> Principal | None:
            if context.authorization is None:  # in-process: no credential to check again
                return context.principal
            return await runtime.authenticate(context.authorization)

        try:
            updates = follow_application(
                runtime, context.principal, parse_id(id, "id"), reauthenticate=reauthenticate
            )
            try:
                async for update in updates:
                    yield ApplicationUpdate.from_update(update)
            finally:
                await updates.aclose()
        except RuxueError as exc:
            yield _error(exc)
