"""Uploading a material (a scan or photo of a paper) that no department check proved.

The guardian of the application, or counter staff of its township, uploads a file for a
material code the application's latest assessment asks for, while the application is in a
state where materials make sense (:data:`MATERIALS_OPEN`). The file is checked (size, type by
its leading bytes), hashed (SHA-256), encrypted (AES-GCM, bound to its storage key) and put in
the :class:`~ruxue_core.material_store.MaterialStore`; its ``Material`` row and an audit entry
are written in one unit of work. A second upload of the same kind adds a row and keeps the
earlier one (history for the reviewers); staff still confirm materials in manual review, so
the status does not change here. Neither the content nor the file name is ever logged or
audited.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Final

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Material
from ruxue_core.domain.enums import Role, Status
from ruxue_core.errors import InvalidInput, InvalidTransition
from ruxue_core.file_checks import normalise_declared, safe_filename, sniff_content_type
from ruxue_core.lifecycle import Case, load_case
from ruxue_core.material_store import new_key
from ruxue_core.permissions import require_role, visible
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.materials import provided_kinds, requested_codes
from ruxue_core.services.views import MaterialNeeded, material_names
from ruxue_core.services.worklist import MaterialView
from ruxue_core.uow import UnitOfWork

MATERIALS_OPEN: Final = frozenset(
    {Status.NEEDS_CORRECTION, Status.MANUAL_REVIEW, Status.SCHOOL_REVIEW, Status.BUREAU_REVIEW}
)
"""States in which a material can be uploaded: verification has produced the assessment that
lists the materials, and no final decision is taken yet (补正, 人工核验, 审核)."""


def storage_purpose(storage_key: str) -> str:
    """The AES-GCM associated data binding an encrypted file to its storage key."""
    return f"material:{storage_key}"


@dataclass(frozen=True, slots=True)
class UploadMaterial:
    """Command: a file for one material code of an application."""

    application_id: int
    code: str
    content: bytes
    filename: str | None = None
    declared_type: str | None = None


@dataclass(frozen=True, slots=True)
class MaterialUploaded:
    """The stored material's description and the materials still outstanding."""

    application_id: int
    material: MaterialView
    outstanding: tuple[MaterialNeeded, ...]


async def upload_material(
    rt: Runtime, command: UploadMaterial, principal: Principal | None
) -> MaterialUploaded:
    """Check, encrypt and store one uploaded material; record it with an audit entry.

    :raises Forbidden: not the guardian nor counter staff.
    :raises NotFound: no such application, or not one the caller may see (alike).
    :raises InvalidInput: ``code`` not asked for by the latest assessment; ``file`` empty, too
        large, of a type not accepted, or not of its declared type.
    :raises InvalidTransition: the application is not in a state that takes materials.
    """
    actor = require_role(principal, Role.GUARDIAN, Role.COUNTER_STAFF)
    content_type = _checked_type(rt, command)
    await rt.read(lambda uow: _admissible(uow, command, actor))
    key = new_key(command.application_id)
    # Hashing and encrypting megabytes: off the event loop.
    digest = await asyncio.to_thread(lambda: hashlib.sha256(command.content).hexdigest())
    blob = await asyncio.to_thread(
        rt.cipher.encrypt_bytes, command.content, purpose=storage_purpose(key)
    )
    await rt.materials.put(key, blob)
    row = Material(
        application_id=command.application_id,
        kind=command.code,
        filename=safe_filename(command.filename, content_type, command.code),
        content_type=content_type,
        size=len(command.content),
        sha256=digest,
        storage_key=key,
        uploaded_by=actor.id[:128],
    )

    def record(uow: UnitOfWork) -> MaterialUploaded:
        case, requested = _admissible(uow, command, actor)
        row.uploaded_at = uow.now
        uow.insert_at_commit(row)
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "application.material_uploaded",
                "application",
                case.application.receipt_no,
                {"kind": row.kind, "sha256": row.sha256, "size": row.size, "type": content_type},
                at=uow.now,
            )
        )
        provided = {*provided_kinds(uow, case), row.kind}
        names = material_names(case.season.policy)
        remaining = tuple(
            MaterialNeeded(code, names.get(code, code))
            for code in requested
            if code not in provided
        )
        uow.commit()
        view = MaterialView(
            row.kind, row.filename, row.content_type, row.size, row.sha256, row.uploaded_at
        )
        return MaterialUploaded(case.id, view, remaining)

    try:
        return await rt.write(record)
    except BaseException:
        await rt.materials.delete(key)
        raise


def _checked_type(rt: Runtime, command: UploadMaterial) -> str:
    settings = rt.settings.uploads
    size = len(command.content)
    if size == 0:
        raise InvalidInput("文件为空", field="file")
    if size > settings.max_bytes:
        limit = settings.max_bytes / (1024 * 1024)
        raise InvalidInput(f"文件过大（上限 {limit:g} MB）", field="file")
    sniffed = sniff_content_type(command.content[:16])
    if sniffed is None or sniffed not in settings.content_types:
        raise InvalidInput("只接受 PDF、JPEG 或 PNG 文件", field="file")
    declared = normalise_declared(command.declared_type)
    if declared not in (None, "application/octet-stream", sniffed):
        raise InvalidInput("文件内容与声明的类型不符", field="file")
    return sniffed


def _admissible(
    uow: UnitOfWork, command: UploadMaterial, actor: Principal
) -> tuple[Case, list[str]]:
    case = visible(actor, load_case(uow, command.application_id), uow.cipher, field="applicationId")
    if case.application.status not in MATERIALS_OPEN:
        raise InvalidTransition("申请当前状态不能上传材料")
    requested = requested_codes(uow, case)
    if command.code not in requested:
        raise InvalidInput(f"本申请不需要此材料：{command.code[:32]}", field="code")
    return case, requested
