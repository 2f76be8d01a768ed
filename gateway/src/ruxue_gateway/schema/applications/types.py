"""GraphQL object types for applications."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ruxue_core.domain.enums import Channel, Outcome, ReviewDecision, Status
from ruxue_core.services.applications import Submitted
from ruxue_core.services.lookup import StatusView
from ruxue_core.services.views import ApplicationView, EvidenceView
from ruxue_core.services.worklist import MaterialView, ReviewView
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401


@strawberry.type(description="Public result lookup: no personal numbers, the name masked.")
class StatusLookup:
    """What anyone with the receipt number and query code may see."""

    receipt_no: str
    status: Status
    status_label: str
    child_name: str
    school_name: str | None
    updated_at: datetime

    @classmethod
    def from_view(cls, view: StatusView) -> StatusLookup:
        """Map the core's view."""
        return cls(
            receipt_no=view.receipt_no,
            status=view.status,
            status_label=view.status_label,
            child_name=view.child_name,
            school_name=view.school_name,
            updated_at=view.updated_at,
        )


@strawberry.type(description="One department check (数据核验) of an application.")
class Evidence:
    """A verifier's outcome, without the source's record."""

    source: str
    subject: str
    outcome: Outcome
    outcome_label: str
    reason: str | None
    checked_at: datetime

    @classmethod
    def from_view(cls, view: EvidenceView) -> Evidence:
        """Map the core's view."""
        return cls(
            source=view.source,
            subject=view.subject,
            outcome=view.outcome,
            outcome_label=view.outcome_label,
            reason=view.reason,
            checked_at=view.checked_at,
        )


@strawberry.type(description="A reviewer's decision at one review step.")
class Review:
    """``reviewer`` (the staff member's id) is shown to staff only."""

    step: Status
    step_label: str
    decision: ReviewDecision
    comment: str
    reviewer: str | None
    at: datetime

    @classmethod
    def from_view(cls, view: ReviewView) -> Review:
        """Map the core's view."""
        return cls(
            step=view.step,
            step_label=view.step_label,
            decision=view.decision,
            comment=view.comment,
            reviewer=view.reviewer,
            at=view.at,
        )


@strawberry.type(description="An uploaded material (its description, not its content).")
class Material:
    """Kind, file name, type, size and SHA-256 of an uploaded material."""

    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime

    @classmethod
    def from_view(cls, view: MaterialView) -> Material:
        """Map the core's view."""
        return cls(
            kind=view.kind,
            filename=view.filename,
            content_type=view.content_type,
            size=view.size,
            sha256=view.sha256,
            uploaded_at=view.uploaded_at,
        )


@strawberry.type(description="An application (办件) as its guardian or staff see it; masked.")
class Application:
    """Personal numbers are masked (``4207**********1231``, ``138****5678``)."""

    id: strawberry.ID
    receipt_no: str
    status: Status
    status_label: str
    version: int = strawberry.field(description="Pass back as `expectedVersion` when reviewing.")
    channel: Channel
    township_code: str | None
    child_name: str
    child_id_number: str
    guardian_name: str
    guardian_phone: str
    address: str = strawberry.field(description="Masked: the township part only.")
    school_code: str | None
    school_name: str | None
    age_exception: str | None = strawberry.field(
        description="deferral (缓学) or early_entry (提前入学): decided in manual review"
    )
    created_at: datetime
    updated_at: datetime
    preloaded_evidence: strawberry.Private[tuple[EvidenceView, ...] | None] = None

    @strawberry.field(description="Department checks (数据核验), oldest first.")
    async def evidence(self, info: strawberry.Info[Context, None]) -> list[Evidence]:
        """Loaded with the application, or for a whole page at once."""
        views = self.preloaded_evidence
        if views is None:
            views = await info.context.loaders.evidence.load(int(self.id))
        return [Evidence.from_view(view) for view in views]

    @strawberry.field(description="Review decisions, oldest first.")
    async def reviews(self, info: strawberry.Info[Context, None]) -> list[Review]:
        """Loaded for a whole page at once."""
        views = await info.context.loaders.reviews.load(int(self.id))
        return [Review.from_view(view) for view in views]

    @strawberry.field(description="Uploaded materials, oldest first.")
    async def materials(self, info: strawberry.Info[Context, None]) -> list[Material]:
        """Loaded for a whole page at once."""
        views = await info.context.loaders.materials.load(int(self.id))
        return [Material.from_view(view) for view in views]

    @classmethod
    def from_view(cls, view: ApplicationView) -> Application:
        """Map the core's view."""
        return cls(
            id=strawberry.ID(str(view.id)),
            receipt_no=view.receipt_no,
            status=view.status,
            status_label=view.status_label,
            version=view.version,
            channel=view.channel,
            township_code=view.township_code,
            child_name=view.child_name,
            child_id_number=view.child_id_number,
            guardian_name=view.guardian_name,
            guardian_phone=view.guardian_phone,
            address=view.address,
            school_code=view.school_code,
            school_name=view.school_name,
            age_exception=view.age_exception,
            created_at=view.created_at,
            updated_at=view.updated_at,
            preloaded_evidence=view.evidence,
        )


@strawberry.type(description="The application was accepted. Show the query code once.")
class SubmitApplicationSuccess:
    """Receipt number (办件编号) and query code (查询密码) for the guardian to keep."""

    application_id: strawberry.ID
    receipt_no: str
    query_code: str
    status: Status
    version: int

    @classmethod
    def from_result(cls, result: Submitted) -> SubmitApplicationSuccess:
        """Map the core's result."""
        return cls(
            application_id=strawberry.ID(str(result.application_id)),
            receipt_no=result.receipt_no,
            query_code=result.query_code,
            status=result.status,
            version=result.version,
        )


@strawberry.type(description="The application's status after the action.")
class ApplicationChanged:
    """New status and version."""

    application_id: strawberry.ID
    receipt_no: str
    status: Status
    version: int


@strawberry.type(description="The guardian's phone was changed.")
class GuardianPhoneChanged:
    """The new number, masked."""

    phone: str
