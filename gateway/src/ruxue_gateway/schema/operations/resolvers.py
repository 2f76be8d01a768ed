"""Operations queries and mutations: the viewer, dead letters, requeueing."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.errors import RuxueError
from ruxue_core.services.operations import retry_dead_job
from ruxue_core.services.views import dead_jobs
from ruxue_gateway.context import Context
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import ErrorResult, error_result
from ruxue_gateway.schema.operations.types import Job, RetryJobInput, RetryJobSuccess, Viewer


@strawberry.type(description="Dead-lettered jobs, newest first.")
class JobList:
    """A bounded list (at most 100)."""

    jobs: list[Job]


DeadJobsResult = Annotated[JobList | ErrorResult, strawberry.union("DeadJobsResult")]
RetryJobResult = Annotated[RetryJobSuccess | ErrorResult, strawberry.union("RetryJobResult")]


@strawberry.type
class OperationQueries:
    """Queries for operators."""

    @strawberry.field(description="The signed-in principal, or null when anonymous.")
    def viewer(self, info: strawberry.Info[Context, None]) -> Viewer | None:
        """Who am I."""
        principal = info.context.principal
        return Viewer.from_principal(principal) if principal else None

    @strawberry.field(description="失败任务 (dead-lettered jobs) for bureau staff.")
    async def dead_jobs(
        self, info: strawberry.Info[Context, None], first: int = 50
    ) -> DeadJobsResult:
        """Jobs that exhausted their attempts."""
        try:
            async with info.context.runtime.unit_of_work(read_only=True) as uow:
                rows = await dead_jobs(uow, info.context.principal, limit=first)
        except RuxueError as exc:
            return error_result(exc)
        return JobList(jobs=[Job.from_row(row) for row in rows])


@strawberry.type
class OperationMutations:
    """Mutations for operators."""

    @strawberry.mutation(description="重新执行失败任务 (requeue a dead-lettered job).")
    async def retry_job(
        self, info: strawberry.Info[Context, None], input: RetryJobInput
    ) -> RetryJobResult:
        """Requeue a dead job with a fresh attempt budget."""
        try:
            job_id = parse_id(input.job_id, "jobId")
            async with info.context.runtime.unit_of_work() as uow:
                await retry_dead_job(uow, job_id, info.context.principal)
        except RuxueError as exc:
            return error_result(exc)
        return RetryJobSuccess(job_id=input.job_id)
