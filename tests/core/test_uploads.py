"""Uploading a material: who may, for which code, in which state; the file's checks; the
content encrypted at rest; the row, the audit entry and the outstanding materials."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from material_helpers import PDF, PNG, SECRET_TEXT, application_in
from sqlmodel import col, select

from ruxue_core.domain import AuditEvent, Material
from ruxue_core.domain.enums import Status
from ruxue_core.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from ruxue_core.file_checks import safe_filename
from ruxue_core.material_store import storage_root
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.uploads import UploadMaterial, storage_purpose, upload_material
from ruxue_core.services.views import get_application
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    SCHOOL_REVIEWER,
)
from ruxue_core.uow import UnitOfWork


def upload(application_id: int, code: str = "hukou_book", **changes: object) -> UploadMaterial:
    fields: dict[str, object] = {
        "content": PDF,
        "filename": "../../etc/张三 户口簿\x00<script>.exe",
        "declared_type": "application/pdf",
    }
    fields.update(changes)
    return UploadMaterial(application_id, code, **fields)  # type: ignore[arg-type]


def stored_files(rt: Runtime) -> list[Path]:
    root = storage_root(rt.settings)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def materials_of(rt: Runtime, application_id: int) -> list[Material]:
    def read(uow: UnitOfWork) -> list[Material]:
        statement = select(Material).where(col(Material.application_id) == application_id)
        return list(uow.session.exec(statement.order_by(col(Material.id))))

    return await rt.read(read)


async def test_the_guardian_uploads_and_the_code_is_no_longer_outstanding(
    runtime: Runtime, season: str
) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    result = await upload_material(runtime, upload(application_id), GUARDIAN)
    assert [m.code for m in result.outstanding] == ["property_certificate"]
    assert result.material.sha256 == hashlib.sha256(PDF).hexdigest()
    assert result.material.size == len(PDF)
    assert result.material.content_type == "application/pdf"
    assert result.material.filename == "张三 户口簿_script.pdf"
    view = await get_application(runtime, application_id, GUARDIAN)
    assert [m.code for m in view.outstanding_materials] == ["property_certificate"]
    assert view.status is Status.MANUAL_REVIEW  # staff still confirm in manual review
    (row,) = await materials_of(runtime, application_id)
    assert row.uploaded_by == GUARDIAN.id
    assert row.kind == "hukou_book"

    def audit(uow: UnitOfWork) -> list[AuditEvent]:
        statement = select(AuditEvent).where(
            col(AuditEvent.action) == "application.material_uploaded"
        )
        return list(uow.session.exec(statement))

    (entry,) = await runtime.read(audit)
    assert entry.actor == GUARDIAN.id
    assert "张三" not in str(entry.data) and "script" not in str(entry.data)
    assert entry.data["sha256"] == hashlib.sha256(PDF).hexdigest()


async def test_the_file_is_encrypted_at_rest_and_bound_to_its_key(
    runtime: Runtime, season: str
) -> None:
    application_id = await application_in(runtime, season, Status.NEEDS_CORRECTION)
    await upload_material(runtime, upload(application_id), COUNTER)
    (path,) = stored_files(runtime)
    blob = path.read_bytes()
    assert SECRET_TEXT not in blob and b"%PDF" not in blob
    (row,) = await materials_of(runtime, application_id)
    assert await runtime.materials.get(row.storage_key) == blob
    plain = runtime.cipher.decrypt_bytes(blob, purpose=storage_purpose(row.storage_key))
    assert plain == PDF
    assert row.uploaded_by == COUNTER.id


async def test_a_second_upload_of_the_same_kind_is_kept_as_history(
    runtime: Runtime, season: str
) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    await upload_material(runtime, upload(application_id), GUARDIAN)
    second = upload(application_id, content=PNG, declared_type="image/png", filename=None)
    result = await upload_material(runtime, second, GUARDIAN)
    assert result.material.filename == "hukou_book.png"
    rows = await materials_of(runtime, application_id)
    assert [(r.kind, r.content_type) for r in rows] == [
        ("hukou_book", "application/pdf"),
        ("hukou_book", "image/png"),
    ]
    assert len(stored_files(runtime)) == 2


@pytest.mark.parametrize("caller", [OTHER_GUARDIAN, OTHER_COUNTER])
async def test_not_yours_answers_like_not_found(
    runtime: Runtime, season: str, caller: Principal
) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    with pytest.raises(NotFound) as theirs:
        await upload_material(runtime, upload(application_id), caller)
    with pytest.raises(NotFound) as missing:
        await upload_material(runtime, upload(2_147_480_000), caller)
    assert (theirs.value.message, theirs.value.field) == (
        missing.value.message,
        missing.value.field,
    )
    assert await materials_of(runtime, application_id) == []
    assert stored_files(runtime) == []


@pytest.mark.parametrize("caller", [SCHOOL_REVIEWER, BUREAU, None])
async def test_other_roles_are_forbidden(
    runtime: Runtime, season: str, caller: Principal | None
) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    with pytest.raises(Forbidden):
        await upload_material(runtime, upload(application_id), caller)


@pytest.mark.parametrize("code", ["residence_permit", "no_such_code", ""])
async def test_a_code_not_asked_for_is_invalid_input(
    runtime: Runtime, season: str, code: str
) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    with pytest.raises(InvalidInput) as caught:
        await upload_material(runtime, upload(application_id, code), GUARDIAN)
    assert caught.value.field == "code"
    assert stored_files(runtime) == []


async def test_a_file_over_the_limit_is_refused(runtime: Runtime, season: str) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    limit = runtime.settings.uploads.max_bytes
    too_big = PDF + b"0" * (limit - len(PDF) + 1)
    with pytest.raises(InvalidInput) as caught:
        await upload_material(runtime, upload(application_id, content=too_big), GUARDIAN)
    assert caught.value.field == "file"
    exactly = PDF + b"0" * (limit - len(PDF))
    await upload_material(runtime, upload(application_id, content=exactly), GUARDIAN)


@pytest.mark.parametrize(
    ("content", "declared"),
    [
        (b"MZ\x90\x00 not a pdf at all", "application/pdf"),  # magic bytes of an .exe
        (b"GIF89a" + b"\x00" * 20, "image/gif"),  # a real type, not accepted
        (PNG, "application/pdf"),  # a PNG declared as PDF
        (b"", "application/pdf"),
    ],
    ids=["exe as pdf", "gif", "declared type differs", "empty"],
)
async def test_the_type_comes_from_the_magic_bytes(
    runtime: Runtime, season: str, content: bytes, declared: str
) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    command = upload(application_id, content=content, declared_type=declared)
    with pytest.raises(InvalidInput) as caught:
        await upload_material(runtime, command, GUARDIAN)
    assert caught.value.field == "file"
    assert await materials_of(runtime, application_id) == []


async def test_outside_the_states_that_take_materials_it_is_refused(
    runtime: Runtime, season: str
) -> None:
    application_id = await application_in(runtime, season, Status.SUBMITTED)
    with pytest.raises(InvalidTransition):
        await upload_material(runtime, upload(application_id), GUARDIAN)
    assert stored_files(runtime) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C:\\Users\\张三\\Desktop\\户口簿.PDF", "户口簿.pdf"),
        ("420704198501011233身份证.pdf", "#身份证.pdf"),
        ("电话13812345678.pdf", "电话#.pdf"),
        ("<img src=x onerror=alert(1)>.pdf", "img src_x onerror_alert(1).pdf"),
        ("...", "hukou_book.pdf"),
        ("a" * 300 + ".pdf", "a" * 80 + ".pdf"),
    ],
)
def test_file_names_are_not_trusted(name: str, expected: str) -> None:
    assert safe_filename(name, "application/pdf", "hukou_book") == expected
