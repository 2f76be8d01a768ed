"""GraphQL object types for applications."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ruxue_core.domain.enums import Channel, Outcome, ReviewDecision, Status
from ruxue_core.services.applications import Submitted
from ruxue_core.services.lookup import StatusView
from ruxue_core.services.materials import PaperRecorded
from ruxue_core.services.views import (
    ApplicationView,
    AssessmentView,
    EvidenceView,
    MaterialNeeded,
    outstanding,
)
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


@strawberry.type(description="One fact a department check proved, masked.")
class Fact:
    """A fact's name (``address``, ``use``, ``months``…) and its masked value."""

    name: str
    value: str


@strawberry.type(description="One department check (数据核验) of an application.")
class Evidence:
    """A verifier's outcome and the facts it proved (masked), never the source's record."""

    source: str
    subject: str
    outcome: Outcome
    outcome_label: str
    reason: str | None
    checked_at: datetime
    facts: list[Fact]
    source_record_id: str | None = strawberry.field(description="the department's record id")
    consent_ref: str | None = strawberry.field(description="the consent (授权核对) relied on")

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
            facts=[Fact(name=k, value=v) for k, v in view.facts],
            source_record_id=view.source_record_id,
            consent_ref=view.consent_ref,
        )


@strawberry.type(description="A material (annex 1) the application still needs.")
class NeededMaterial:
    """Its stable code and Chinese name."""

    code: str
    name: str

    @classmethod
    def from_view(cls, view: MaterialNeeded) -> NeededMaterial:
        """Map the core's value."""
        return cls(code=view.code, name=view.name)


@strawberry.type(description="What the season's rules concluded from the verified facts.")
class Assessment:
    """Category (入学类别), proven address, zoned schools, materials, what to correct."""

    round: int
    decision: str = strawberry.field(description="verified | needs_correction | manual_review")
    reason_code: str
    reason: str
    category: str | None
    category_name: str | None
    address_proven_by: str | None = strawberry.field(
        description="the fact that proved the declared address: hukou, property, residence_permit"
    )
    schools: list[str] = strawberry.field(description="zoned school codes; the first reviews")
    materials: list[NeededMaterial]
    corrections: list[str] = strawberry.field(
        description="what to correct: child, guardian, relationship, address"
    )

    @classmethod
    def from_view(cls, view: AssessmentView) -> Assessment:
        """Map the core's view."""
        return cls(
            round=view.round,
            decision=view.decision,
            reason_code=view.reason_code,
            reason=view.reason,
            category=view.category,
            category_name=view.category_name,
            address_proven_by=view.address_proven_by,
            schools=list(view.schools),
            materials=[NeededMaterial.from_view(m) for m in view.materials],
            corrections=list(view.corrections),
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
    private_school_code: str | None = strawberry.field(
        description="The private school chosen (公民同招, `choosePrivateSchool`), tried first."
    )
    private_school_name: str | None
    primary_school_code: str | None = strawberry.field(
        description="小升初: the primary school the child graduates from."
    )
    age_exception: str | None = strawberry.field(
        description="deferral (缓学) or early_entry (提前入学): decided in manual review"
    )
    created_at: datetime
    updated_at: datetime
    details: strawberry.Private[ApplicationView | None] = None
    """The view itself when it was read with its details (a single application)."""

    @strawberry.field(description="Department checks (数据核验), oldest first.")
    async def evidence(self, info: strawberry.Info[Context, None]) -> list[Evidence]:
        """Loaded with the application, or for a whole page at once."""
        if self.details is not None:
            views = self.details.evidence
        else:
            views = await info.context.loaders.evidence.load(int(self.id))
        return [Evidence.from_view(view) for view in views]

    @strawberry.field(description="What the season's rules concluded from the latest check.")
    async def assessment(self, info: strawberry.Info[Context, None]) -> Assessment | None:
        """Loaded with the application, or for a whole page at once."""
        view = await self._assessment(info)
        return Assessment.from_view(view) if view else None

    @strawberry.field(
        description="Materials still needed: neither uploaded nor seen at the counter."
    )
    async def outstanding_materials(
        self, info: strawberry.Info[Context, None]
    ) -> list[NeededMaterial]:
        """Loaded with the application, or from the page's assessments and materials."""
        if self.details is not None:
            needed = self.details.outstanding_materials
        else:
            provided = await info.context.loaders.materials.load(int(self.id))
            needed = outstanding(await self._assessment(info), {m.kind for m in provided})
        return [NeededMaterial.from_view(m) for m in needed]

    @strawberry.field(description="The consent (授权核对) on record.")
    async def consent_ref(self, info: strawberry.Info[Context, None]) -> str | None:
        """Loaded with the application, or for a whole page at once."""
        if self.details is not None:
            return self.details.consent_ref
        refs = await info.context.loaders.consents.load(int(self.id))
        return refs[0] if refs else None

    async def _assessment(self, info: strawberry.Info[Context, None]) -> AssessmentView | None:
        if self.details is not None:
            return self.details.assessment
        views = await info.context.loaders.assessments.load(int(self.id))
        return views[0] if views else None

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
            private_school_code=view.private_school_code,
            private_school_name=view.private_school_name,
            primary_school_code=view.primary_school_code,
            age_exception=view.age_exception,
            created_at=view.created_at,
            updated_at=view.updated_at,
            details=view if view.details_loaded else None,
        )


@strawberry.type(description="Counter staff recorded the originals they saw.")
class PaperRecordedPayload:
    """The materials still outstanding, and the consent on record."""

    application_id: strawberry.ID
    outstanding_materials: list[NeededMaterial]
    consent_ref: str | None

    @classmethod
    def from_result(cls, result: PaperRecorded) -> PaperRecordedPayload:
        """Map the core's result."""
        return cls(
            application_id=strawberry.ID(str(result.application_id)),
            outstanding_materials=[NeededMaterial.from_view(m) for m in result.outstanding],
            consent_ref=result.consent_ref,
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
