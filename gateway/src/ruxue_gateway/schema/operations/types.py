"""GraphQL types for operations: jobs and the signed-in principal."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ruxue_core.domain import Job as JobRow
from ruxue_core.domain.enums import ROLE_LABELS, JobStatus, Role
from ruxue_core.plugins.contracts import Principal
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401


@strawberry.type(description="A background job (outbox row).")
class Job:
    """Enough to see why a job failed; payloads stay internal."""

    id: strawberry.ID
    kind: str
    status: JobStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        """Map a job row."""
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


@strawberry.type(description="Who the request is authenticated as.")
class Viewer:
    """The signed-in principal."""

    id: str
    role: str
    role_label: str
    name: str

    @classmethod
    def from_principal(cls, principal: Principal) -> Viewer:
        """Map a principal."""
        return cls(
            id=principal.id,
            role=principal.role.value,
            role_label=ROLE_LABELS[Role(principal.role)],
            name=principal.name,
        )


@strawberry.type(description="The job was requeued.")
class RetryJobSuccess:
    """The requeued job's id."""

    job_id: strawberry.ID


@strawberry.input(description="Requeue a dead-lettered job.")
class RetryJobInput:
    """The job to requeue."""

    job_id: strawberry.ID
