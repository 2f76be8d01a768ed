"""Intake: a guardian's drafts (``startApplication``, ``updateApplication``, ``myDrafts``),
counter intake (``createCounterApplication``) and manual verification
(``recordManualVerification``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ruxue_core.domain.enums import Relationship, Status
from ruxue_core.services import drafts, manual
from ruxue_core.services.counter import CreateCounterApplication, create_counter_application
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401
from ruxue_gateway.schema.applications.inputs import PersonInput, SubmitApplicationInput
from ruxue_gateway.schema.applications.types import NeededMaterial, SubmitApplicationSuccess
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ConflictError,
    DuplicateError,
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    OutOfPhaseError,
)

strawberry.enum(manual.ManualFact, description="人工核验事项 (a fact confirmed from a paper)")
strawberry.enum(manual.ManualOutcome, description="人工核验结论 (manual verification outcome)")


@strawberry.input(description="A person on a draft: either part may be left out for now.")
class DraftPersonInput:
    """Name and resident ID number, each optional; ``""`` clears a part."""

    name: str | None = None
    id_number: str | None = None


@strawberry.input(description='Fields of a draft; leave a field out to keep it, `""` clears.')
class DraftFieldsInput:
    """Each given field is checked on its own; an error names it (``child.idNumber``…)."""

    child: DraftPersonInput | None = None
    guardian: DraftPersonInput | None = None
    guardian_phone: str | None = None
    relationship: Relationship | None = None
    address: str | None = None
    township_code: str | None = None
    consent: bool | None = strawberry.field(
        default=None, description="授权核对 (see SubmitApplicationInput.consent)"
    )
    primary_school_code: str | None = strawberry.field(
        default=None,
        description="小升初 (junior seasons only; see SubmitApplicationInput.primarySchoolCode)",
    )

    def to_core(self) -> drafts.DraftFields:
        """The core's fields."""
        child = self.child or DraftPersonInput()
        guardian = self.guardian or DraftPersonInput()
        return drafts.DraftFields(
            child_name=child.name,
            child_id_number=child.id_number,
            guardian_name=guardian.name,
            guardian_id_number=guardian.id_number,
            guardian_phone=self.guardian_phone,
            relationship=self.relationship,
            address=self.address,
            township_code=self.township_code,
            consent=self.consent,
            primary_school_code=self.primary_school_code,
        )


@strawberry.input(description="Start a draft (草稿) for a season.")
class StartApplicationInput:
    """The season and whatever fields are at hand."""

    season_code: str
    fields: DraftFieldsInput | None = None


@strawberry.input(description="Change some fields of your draft.")
class UpdateApplicationInput:
    """``expectedVersion`` guards against two devices editing at once."""

    draft_id: strawberry.ID
    fields: DraftFieldsInput
    expected_version: int | None = None


@strawberry.type(description="A draft (草稿) as its owner sees it; personal numbers masked.")
class ApplicationDraft:
    """Submit it with ``submitApplication(input: {draftId})`` once ``missing`` is empty."""

    id: strawberry.ID
    season_code: str
    version: int
    child_name: str | None
    child_id_number: str | None
    guardian_name: str | None
    guardian_id_number: str | None
    guardian_phone: str | None
    relationship: Relationship | None
    address: str | None = strawberry.field(description="Masked: the township part only.")
    township_code: str | None
    consent: bool
    primary_school_code: str | None = strawberry.field(description="小升初: the primary school.")
    missing: list[str] = strawberry.field(description="Fields still needed to submit.")
    application_id: strawberry.ID | None = strawberry.field(description="Once submitted.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_view(cls, view: drafts.DraftView) -> ApplicationDraft:
        """Map the core's view."""
        return cls(
            id=strawberry.ID(str(view.id)),
            season_code=view.season_code,
            version=view.version,
            child_name=view.child_name,
            child_id_number=view.child_id_number,
            guardian_name=view.guardian_name,
            guardian_id_number=view.guardian_id_number,
            guardian_phone=view.guardian_phone,
            relationship=view.relationship,
            address=view.address,
            township_code=view.township_code,
            consent=view.consent,
            primary_school_code=view.primary_school_code,
            missing=list(view.missing),
            application_id=strawberry.ID(str(view.application_id))
            if view.application_id is not None
            else None,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


@strawberry.type(description="Your drafts not yet submitted, newest first.")
class DraftList:
    """At most a handful per guardian."""

    drafts: list[ApplicationDraft]


@strawberry.input(description="窗口受理: the form as the family gave it at the counter.")
class CreateCounterApplicationInput:
    """Staff of the township enter the form, the consent signed on paper, and the season's
    material codes whose originals they checked, so the family comes only once."""

    season_code: str
    child: PersonInput
    guardian: PersonInput
    guardian_phone: str
    relationship: Relationship
    address: str
    township_code: str = strawberry.field(description="Your own township (乡镇（街道）代码).")
    consent: bool = strawberry.field(
        default=False, description="The family signed the consent form (授权核对) on paper."
    )
    materials_seen: list[str] = strawberry.field(
        default_factory=list, description="Material codes whose originals you checked."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="As for submitApplication: a retry gets the first answer."
    )

    def to_command(self) -> CreateCounterApplication:
        """The core's command."""
        form = SubmitApplicationInput(
            season_code=self.season_code,
            child=self.child,
            guardian=self.guardian,
            guardian_phone=self.guardian_phone,
            relationship=self.relationship,
            address=self.address,
            township_code=self.township_code,
            consent=self.consent,
            idempotency_key=self.idempotency_key,
        ).to_command()
        return CreateCounterApplication(form, tuple(self.materials_seen))


@strawberry.input(description="One fact confirmed from one original paper.")
class ManualConfirmationInput:
    """``paper`` is a material code of the season (``hukou_book``…)."""

    fact: manual.ManualFact
    paper: str


@strawberry.input(description="人工核验: the outcome of checking an application's originals.")
class RecordManualVerificationInput:
    """``CONFIRMED`` needs at least one confirmation."""

    application_id: strawberry.ID
    outcome: manual.ManualOutcome
    confirmations: list[ManualConfirmationInput] = strawberry.field(default_factory=list)
    comment: str = ""
    expected_version: int | None = None

    def to_command(self, application_id: int) -> manual.RecordManualVerification:
        """The core's command."""
        return manual.RecordManualVerification(
            application_id=application_id,
            outcome=self.outcome,
            confirmations=tuple(manual.Confirmation(c.fact, c.paper) for c in self.confirmations),
            comment=self.comment,
            expected_version=self.expected_version,
        )


@strawberry.type(description="The manual verification was recorded.")
class ManualVerificationRecorded:
    """The application's status afterwards and the materials still outstanding."""

    application_id: strawberry.ID
    receipt_no: str
    status: Status
    version: int
    outstanding_materials: list[NeededMaterial]


DraftResult = Annotated[
    ApplicationDraft | InvalidInputError | ForbiddenError | OutOfPhaseError,
    strawberry.union("StartApplicationResult"),
]
UpdateDraftResult = Annotated[
    ApplicationDraft
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | ConflictError
    | OutOfPhaseError,
    strawberry.union("UpdateApplicationResult"),
]
MyDraftsResult = Annotated[DraftList | ForbiddenError, strawberry.union("MyDraftsResult")]
CounterResult = Annotated[
    SubmitApplicationSuccess
    | InvalidInputError
    | IneligibleError
    | DuplicateError
    | ForbiddenError
    | OutOfPhaseError,
    strawberry.union("CreateCounterApplicationResult"),
]
ManualResult = Annotated[
    ManualVerificationRecorded
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError
    | ConflictError,
    strawberry.union("RecordManualVerificationResult"),
]


@strawberry.type
class IntakeQueries:
    """A guardian's drafts."""

    @strawberry.field(description="我的草稿: your drafts not yet submitted (guardians).")
    async def my_drafts(self, info: strawberry.Info[Context, None]) -> MyDraftsResult:
        """The signed-in guardian's open drafts."""
        context = info.context
        views = await drafts.my_drafts(context.runtime, context.principal)
        return DraftList(drafts=[ApplicationDraft.from_view(v) for v in views])


@strawberry.type
class IntakeMutations:
    """Drafts, counter intake and manual verification."""

    @strawberry.mutation(description="开始填写报名 (a draft, filled over several visits).")
    async def start_application(
        self, info: strawberry.Info[Context, None], input: StartApplicationInput
    ) -> DraftResult:
        """Start a draft with any fields at hand."""
        fields = input.fields.to_core() if input.fields else drafts.DraftFields()
        context = info.context
        command = drafts.StartDraft(input.season_code, fields)
        return ApplicationDraft.from_view(
            await drafts.start_draft(context.runtime, command, context.principal)
        )

    @strawberry.mutation(description="修改草稿 (your own draft, field by field).")
    async def update_application(
        self, info: strawberry.Info[Context, None], input: UpdateApplicationInput
    ) -> UpdateDraftResult:
        """Change some fields of a draft."""
        command = drafts.UpdateDraft(
            parse_id(input.draft_id, "draftId"), input.fields.to_core(), input.expected_version
        )
        context = info.context
        return ApplicationDraft.from_view(
            await drafts.update_draft(context.runtime, command, context.principal)
        )

    @strawberry.mutation(description="窗口受理 (counter staff, their township; 只跑一次).")
    async def create_counter_application(
        self, info: strawberry.Info[Context, None], input: CreateCounterApplicationInput
    ) -> CounterResult:
        """Enter an application on the family's behalf at the counter."""
        context = info.context
        result = await create_counter_application(
            context.runtime, input.to_command(), context.principal
        )
        return SubmitApplicationSuccess.from_result(result)

    @strawberry.mutation(description="登记人工核验结果 (reviewers in scope).")
    async def record_manual_verification(
        self, info: strawberry.Info[Context, None], input: RecordManualVerificationInput
    ) -> ManualResult:
        """Record which facts were confirmed from which paper, and move the application on."""
        command = input.to_command(parse_id(input.application_id, "applicationId"))
        context = info.context
        result = await manual.record_manual_verification(
            context.runtime, command, context.principal
        )
        return ManualVerificationRecorded(
            application_id=strawberry.ID(str(result.application_id)),
            receipt_no=result.receipt_no,
            status=result.status,
            version=result.version,
            outstanding_materials=[NeededMaterial.from_view(m) for m in result.outstanding],
        )
