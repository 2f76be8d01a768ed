"""Application queries: the public status lookup and a signed-in user's application."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.errors import RuxueError
from ruxue_core.services.applications import lookup_status
from ruxue_core.services.views import get_application
from ruxue_gateway.context import Context
from ruxue_gateway.schema.applications.types import Application, StatusLookup
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import ErrorResult, error_result

ApplicationStatusResult = Annotated[
    StatusLookup | ErrorResult, strawberry.union("ApplicationStatusResult")
]
ApplicationResult = Annotated[Application | ErrorResult, strawberry.union("ApplicationResult")]


@strawberry.type
class ApplicationQueries:
    """Queries about applications."""

    @strawberry.field(description="按办件编号和查询密码查询办理结果 (anonymous, rate limited).")
    async def application_status(
        self, info: strawberry.Info[Context, None], receipt_no: str, query_code: str
    ) -> ApplicationStatusResult:
        """Public lookup by receipt number and query code."""
        try:
            async with info.context.runtime.unit_of_work() as uow:
                view = await lookup_status(uow, receipt_no, query_code)
        except RuxueError as exc:
            return error_result(exc)
        return StatusLookup.from_view(view)

    @strawberry.field(description="One application you may see (your own, or in your scope).")
    async def application(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> ApplicationResult:
        """A signed-in user's view of one application, masked."""
        try:
            application_id = parse_id(id, "id")
            async with info.context.runtime.unit_of_work(read_only=True) as uow:
                view = await get_application(uow, application_id, info.context.principal)
        except RuxueError as exc:
            return error_result(exc)
        return Application.from_view(view)
