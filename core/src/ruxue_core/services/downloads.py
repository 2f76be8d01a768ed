"""Downloading an uploaded material: the file decrypted for a principal who may see its
application (staff within their scope, the family's own guardian), every download audited.

Auditors see the audit trail, not families' documents: they are refused like any role
without access. A material of an application the principal may not see answers exactly like
a missing one (``NotFound``), so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Material
from ruxue_core.domain.enums import Role
from ruxue_core.errors import NotFound
from ruxue_core.lifecycle import load_case
from ruxue_core.permissions import NOT_FOUND_MESSAGE, require_role, visible
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.uploads import storage_purpose
from ruxue_core.uow import UnitOfWork

MAY_DOWNLOAD: Final = (
    Role.GUARDIAN,
    Role.COUNTER_STAFF,
    Role.SCHOOL_REVIEWER,
    Role.BUREAU_OFFICER,
    Role.ADMIN,
)


@dataclass(frozen=True, slots=True)
class MaterialFile:
    """One decrypted material, ready to be served."""

    filename: str
    content_type: str
    content: bytes


async def download_material(
    rt: Runtime, principal: Principal | None, material_id: int
) -> MaterialFile:
    """The material's file, decrypted, after an audit entry naming who fetched it.

    :raises Forbidden: not signed in, or a role that never sees materials.
    :raises NotFound: no such material, or one of an application out of the principal's scope.
    """
    actor = require_role(principal, *MAY_DOWNLOAD)

    def authorise(uow: UnitOfWork) -> Material:
        material = uow.session.get(Material, material_id)
        if material is None:
            raise NotFound(NOT_FOUND_MESSAGE, field="materialId")
        case = visible(
            actor, load_case(uow, material.application_id), uow.cipher, field="materialId"
        )
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "application.material_downloaded",
                "application",
                case.application.receipt_no,
                {"kind": material.kind, "sha256": material.sha256},
                at=uow.now,
            )
        )
        uow.commit()
        return material

    material = await rt.write(authorise)
    blob = await rt.materials.get(material.storage_key)
    content = await asyncio.to_thread(
        rt.cipher.decrypt_bytes, blob, purpose=storage_purpose(material.storage_key)
    )
    return MaterialFile(material.filename, material.content_type, content)
