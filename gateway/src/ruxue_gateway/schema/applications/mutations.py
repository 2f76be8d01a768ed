"""Application mutations. Each takes one ``input`` and returns success or a typed error."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.errors import RuxueError
from ruxue_core.services.applications import (
    StatusChanged,
    correct_application,
    review_application,
    submit_application,
    withdraw_application,
)
from ruxue_gateway.context import Context
from ruxue_gateway.schema.applications.inputs import (
    CorrectApplicationInput,
    ReviewApplicationInput,
    SubmitApplicationInput,
    WithdrawApplicationInput,
)
from ruxue_gateway.schema.applications.types import ApplicationChanged, SubmitApplicationSuccess
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import ErrorResult, error_result

SubmitApplicationResult = Annotated[
    SubmitApplicationSuccess | ErrorResult, strawberry.union("SubmitApplicationResult")
]
ApplicationChangeResult = Annotated[
    ApplicationChanged | ErrorResult, strawberry.union("ApplicationChangeResult")
]


@strawberry.type
class ApplicationMutations:
    """Mutations on applications."""

    @strawberry.mutation(description="提交入学报名 (guardian online, or counter staff).")
    async def submit_application(
        self, info: strawberry.Info[Context, None], input: SubmitApplicationInput
    ) -> SubmitApplicationResult:
        """Submit an application; verification starts in the background."""
        try:
            async with info.context.runtime.unit_of_work() as uow:
                result = await submit_application(uow, input.to_command(), info.context.principal)
        except RuxueError as exc:
            return error_result(exc)
        return SubmitApplicationSuccess.from_result(result)

    @strawberry.mutation(description="审核 (school or bureau review, or manual verification).")
    async def review_application(
        self, info: strawberry.Info[Context, None], input: ReviewApplicationInput
    ) -> ApplicationChangeResult:
        """Decide at the application's current review step."""
        try:
            command = input.to_command(parse_id(input.application_id, "applicationId"))
            async with info.context.runtime.unit_of_work() as uow:
                result = await review_application(uow, command, info.context.principal)
        except RuxueError as exc:
            return error_result(exc)
        return _changed(result)

    @strawberry.mutation(description="撤回报名 (before a decision).")
    async def withdraw_application(
        self, info: strawberry.Info[Context, None], input: WithdrawApplicationInput
    ) -> ApplicationChangeResult:
        """Withdraw an application."""
        try:
            application_id = parse_id(input.application_id, "applicationId")
            async with info.context.runtime.unit_of_work() as uow:
                result = await withdraw_application(uow, application_id, info.context.principal)
        except RuxueError as exc:
            return error_result(exc)
        return _changed(result)

    @strawberry.mutation(description="补正后重新提交 (correct the address and resubmit).")
    async def correct_application(
        self, info: strawberry.Info[Context, None], input: CorrectApplicationInput
    ) -> ApplicationChangeResult:
        """Resubmit after a failed check; verification runs again."""
        try:
            command = input.to_command(parse_id(input.application_id, "applicationId"))
            async with info.context.runtime.unit_of_work() as uow:
                result = await correct_application(uow, command, info.context.principal)
        except RuxueError as exc:
            return error_result(exc)
        return _changed(result)


def _changed(result: StatusChanged) -> ApplicationChanged:
    return ApplicationChanged(
        application_id=strawberry.ID(str(result.application_id)),
        receipt_no=result.receipt_no,
        status=result.status,
        version=result.version,
    )
