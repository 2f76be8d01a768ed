"""Operations queries and mutations: the viewer, dead letters, requeueing."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services.operations import retry_dead_job
from ruxue_core.services.views import dead_jobs
from ruxue_gateway.context import Context
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import ForbiddenError, InvalidInputError, NotFoundError
from ruxue_gateway.schema.operations.types import Job, RetryJobInput, RetryJobSuccess, Viewer


@strawberry.type(description="Dead-lettered jobs, newest first.")
class JobList:
    """A bounded list (at most 100)."""

    jobs: list[Job]


DeadJobsResult = Annotated[JobList | ForbiddenError, strawberry.union("DeadJobsResult")]
RetryJobResult = Annotated[
    RetryJobSuccess | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("RetryJobResult"),
]


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
        rows = await dead_jobs(info.context.runtime, info.context.principal, limit=first)
        return JobList(jobs=[Job.from_row(row) for row in rows])


@strawberry.type
class OperationMutations:
    """Mutations for operators."""

    @strawberry.mutation(description="重新执行失败任务 (requeue a dead-lettered job).")
    async def retry_job(
        self, info: strawberry.Info[Context, None], input: RetryJobInput
    ) -> RetryJobResult:
        """Requeue a dead job with a fresh attempt budget."""
        job_id = parse_id(input.job_id, "jobId")
        await retry_dead_job(info.context.runtime, job_id, info.context.principal)
        return RetryJobSuccess(job_id=input.job_id)
