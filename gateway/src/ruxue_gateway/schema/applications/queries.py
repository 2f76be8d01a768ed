"""Application queries: the public status lookup and a signed-in user's application."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services.lookup import lookup_status
from ruxue_core.services.views import get_application
from ruxue_gateway.context import Context
from ruxue_gateway.schema.applications.types import Application, StatusLookup
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)

ApplicationStatusResult = Annotated[
    StatusLookup | InvalidInputError | RateLimitedError | NotFoundError,
    strawberry.union("ApplicationStatusResult"),
]
ApplicationResult = Annotated[
    Application | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("ApplicationResult"),
]


@strawberry.type
class ApplicationQueries:
    """Queries about applications."""

    @strawberry.field(description="按办件编号和查询密码查询办理结果 (anonymous, rate limited).")
    async def application_status(
        self, info: strawberry.Info[Context, None], receipt_no: str, query_code: str
    ) -> ApplicationStatusResult:
        """Public lookup by receipt number and query code."""
        context = info.context
        view = await lookup_status(context.runtime, receipt_no, query_code, client=context.client)
        return StatusLookup.from_view(view)

    @strawberry.field(description="One application you may see (your own, or in your scope).")
    async def application(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> ApplicationResult:
        """A signed-in user's view of one application, masked."""
        context = info.context
        view = await get_application(context.runtime, parse_id(id, "id"), context.principal)
        return Application.from_view(view)
