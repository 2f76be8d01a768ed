"""``uploadMaterial``: a material's file over the GraphQL multipart request protocol.

The file arrives as Strawberry's ``Upload`` scalar (a Starlette ``UploadFile``) in a
``multipart/form-data`` request; the view refuses multipart requests that lack a preflight
header (see :mod:`ruxue_gateway.app`), and the body limit lets multipart bodies through up to
the material size limit only (:mod:`ruxue_gateway.limits`). The resolver reads at most one
byte more than the limit and hands the bytes to the core, which checks everything else.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from ruxue_core.errors import InvalidInput
from ruxue_core.services.uploads import MaterialUploaded, UploadMaterial, upload_material
from ruxue_gateway.context import Context
from ruxue_gateway.schema.applications.types import Material, NeededMaterial
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ForbiddenError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)


@strawberry.input(description="A file for one material the application still needs.")
class UploadMaterialInput:
    """The application, the material code (from ``outstandingMaterials``) and the file."""

    application_id: strawberry.ID
    code: str
    file: Upload = strawberry.field(
        description="PDF, JPEG or PNG, sent as a GraphQL multipart request part"
    )


@strawberry.type(description="The material was stored; what the application still needs.")
class MaterialUploadedPayload:
    """The stored material's description and the materials still outstanding."""

    application_id: strawberry.ID
    material: Material
    outstanding_materials: list[NeededMaterial]

    @classmethod
    def from_result(cls, result: MaterialUploaded) -> MaterialUploadedPayload:
        """Map the core's result."""
        return cls(
            application_id=strawberry.ID(str(result.application_id)),
            material=Material.from_view(result.material),
            outstanding_materials=[NeededMaterial.from_view(m) for m in result.outstanding],
        )


UploadMaterialResult = Annotated[
    MaterialUploadedPayload
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError,
    strawberry.union("UploadMaterialResult"),
]


async def resolve_upload_material(
    info: strawberry.Info[Context, None], input: UploadMaterialInput
) -> UploadMaterialResult:
    """Read the uploaded part (at most the limit plus one byte) and run the use case."""
    context = info.context
    application_id = parse_id(input.application_id, "applicationId")
    upload: object = input.file
    if not isinstance(upload, UploadFile):
        raise InvalidInput("请以 multipart 请求上传文件", field="file")
    limit = context.runtime.settings.uploads.max_bytes
    content = await upload.read(limit + 1)
    command = UploadMaterial(
        application_id,
        input.code,
        content,
        filename=upload.filename,
        declared_type=upload.content_type,
    )
    result = await upload_material(context.runtime, command, context.principal)
    return MaterialUploadedPayload.from_result(result)
