"""Application mutations. Each takes one ``input`` and returns its payload or one of the
typed errors its use case can raise (core errors become those results; see ``errors``)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services.applications import (
    StatusChanged,
    correct_application,
    review_application,
    submit_application,
    withdraw_application,
)
from ruxue_core.services.drafts import SubmitDraft, submit_draft
from ruxue_core.services.guardians import ChangeGuardianPhone, change_guardian_phone
from ruxue_core.services.materials import record_paper_seen
from ruxue_gateway.context import Context
from ruxue_gateway.schema.applications.inputs import (
    ChangeGuardianPhoneInput,
    CorrectApplicationInput,
    RecordPaperSeenInput,
    ReviewApplicationInput,
    SubmitApplicationInput,
    WithdrawApplicationInput,
)
from ruxue_gateway.schema.applications.types import (
    ApplicationChanged,
    GuardianPhoneChanged,
    PaperRecordedPayload,
    SubmitApplicationSuccess,
)
from ruxue_gateway.schema.applications.uploads import (
    UploadMaterialInput,
    UploadMaterialResult,
    resolve_upload_material,
)
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

SubmitApplicationResult = Annotated[
    SubmitApplicationSuccess
    | InvalidInputError
    | IneligibleError
    | DuplicateError
    | ForbiddenError
    | NotFoundError
    | OutOfPhaseError,
    strawberry.union("SubmitApplicationResult"),
]
ApplicationChangeResult = Annotated[
    ApplicationChanged
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError
    | ConflictError,
    strawberry.union("ApplicationChangeResult"),
]
RecordPaperSeenResult = Annotated[
    PaperRecordedPayload
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError,
    strawberry.union("RecordPaperSeenResult"),
]
ChangeGuardianPhoneResult = Annotated[
    GuardianPhoneChanged | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("ChangeGuardianPhoneResult"),
]


@strawberry.type
class ApplicationMutations:
    """Mutations on applications."""

    @strawberry.mutation(description="提交入学报名 (guardian online, or counter staff).")
    async def submit_application(
        self, info: strawberry.Info[Context, None], input: SubmitApplicationInput
    ) -> SubmitApplicationResult:
        """Submit an application (or a draft); verification starts in the background."""
        context = info.context
        if input.draft_id is not None:
            command = SubmitDraft(parse_id(input.draft_id, "draftId"), input.idempotency_key)
            result = await submit_draft(context.runtime, command, context.principal)
        else:
            result = await submit_application(
                context.runtime, input.to_command(), context.principal
            )
        return SubmitApplicationSuccess.from_result(result)

    @strawberry.mutation(description="审核 (school or bureau review, or manual verification).")
    async def review_application(
        self, info: strawberry.Info[Context, None], input: ReviewApplicationInput
    ) -> ApplicationChangeResult:
        """Decide at the application's current review step."""
        command = input.to_command(parse_id(input.application_id, "applicationId"))
        context = info.context
        return _changed(await review_application(context.runtime, command, context.principal))

    @strawberry.mutation(description="撤回报名 (before a decision).")
    async def withdraw_application(
        self, info: strawberry.Info[Context, None], input: WithdrawApplicationInput
    ) -> ApplicationChangeResult:
        """Withdraw an application."""
        command = input.to_command(parse_id(input.application_id, "applicationId"))
        context = info.context
        return _changed(await withdraw_application(context.runtime, command, context.principal))

    @strawberry.mutation(description="补正后重新提交 (correct the address and resubmit).")
    async def correct_application(
        self, info: strawberry.Info[Context, None], input: CorrectApplicationInput
    ) -> ApplicationChangeResult:
        """Resubmit after a failed check; verification runs again."""
        command = input.to_command(parse_id(input.application_id, "applicationId"))
        context = info.context
        return _changed(await correct_application(context.runtime, command, context.principal))

    @strawberry.mutation(description="窗口登记原件已核验 (counter staff, their township).")
    async def record_paper_seen(
        self, info: strawberry.Info[Context, None], input: RecordPaperSeenInput
    ) -> RecordPaperSeenResult:
        """Record the originals seen (and a paper consent); returns what is still needed."""
        command = input.to_command(parse_id(input.application_id, "applicationId"))
        context = info.context
        result = await record_paper_seen(context.runtime, command, context.principal)
        return PaperRecordedPayload.from_result(result)

    @strawberry.mutation(
        description="上传材料 (guardian, or counter staff of the township; GraphQL multipart)."
    )
    async def upload_material(
        self, info: strawberry.Info[Context, None], input: UploadMaterialInput
    ) -> UploadMaterialResult:
        """Upload a file for a material the application's assessment asks for."""
        return await resolve_upload_material(info, input)

    @strawberry.mutation(description="修改监护人手机号码 (the signed-in guardian's own).")
    async def change_guardian_phone(
        self, info: strawberry.Info[Context, None], input: ChangeGuardianPhoneInput
    ) -> ChangeGuardianPhoneResult:
        """Change the phone SMS go to; audited."""
        context = info.context
        masked = await change_guardian_phone(
            context.runtime, ChangeGuardianPhone(input.phone), context.principal
        )
        return GuardianPhoneChanged(phone=masked)


def _changed(result: StatusChanged) -> ApplicationChanged:
    return ApplicationChanged(
        application_id=strawberry.ID(str(result.application_id)),
        receipt_no=result.receipt_no,
        status=result.status,
        version=result.version,
    )
