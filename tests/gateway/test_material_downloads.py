"""``GET /materials/{id}``: an uploaded material for a principal who may see its application,
with safe headers, audited; refused for anonymous callers, roles that never see materials,
staff outside their scope and guardians of other families (each a refusal of its own)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from material_helpers import PDF, application_in
from sqlmodel import col, select
from starlette.testclient import TestClient

from ruxue_core.domain import AuditEvent, Material
from ruxue_core.domain.enums import Status
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.uploads import UploadMaterial, upload_material
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    OTHER_SCHOOL_REVIEWER,
)
from ruxue_gateway.app import create_app
from ruxue_gateway.downloads import content_disposition

NAME = "户口簿 2026.pdf"


@pytest.fixture
def material_id(seeded_settings: Settings, season_file: SeasonFile) -> int:
    async def make() -> int:
        runtime = Runtime.create(seeded_settings)
        try:
            code = season_file.season.code
            application_id = await application_in(runtime, code, Status.MANUAL_REVIEW)
            command = UploadMaterial(application_id, "hukou_book", PDF, NAME, "application/pdf")
            await upload_material(runtime, command, GUARDIAN)

            def first(uow: Any) -> int:
                row = uow.session.exec(select(Material)).first()
                assert row is not None and row.id is not None
                return int(row.id)

            return await runtime.read(first)
        finally:
            await runtime.close()

    return asyncio.run(make())


def fetch(settings: Settings, material_id: int, principal: Principal | None) -> Any:
    headers = {}
    if principal is not None:
        headers["Authorization"] = f"Bearer {issue_dev_token(settings, principal)}"
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        return client.get(f"/materials/{material_id}", headers=headers)


def downloads_audited(settings: Settings) -> list[str]:
    async def read() -> list[str]:
        runtime = Runtime.create(settings)
        try:
            return await runtime.read(
                lambda uow: list(
                    uow.session.exec(
                        select(AuditEvent.actor).where(
                            col(AuditEvent.action) == "application.material_downloaded"
                        )
                    ).all()
                )
            )
        finally:
            await runtime.close()

    return asyncio.run(read())


@pytest.mark.parametrize("principal", [GUARDIAN, COUNTER, BUREAU, ADMIN], ids=lambda p: p.id)
def test_those_who_may_see_the_application_download_it(
    seeded_settings: Settings, material_id: int, principal: Principal
) -> None:
    response = fetch(seeded_settings, material_id, principal)
    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == content_disposition(NAME)
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in response.headers["cache-control"]
    assert downloads_audited(seeded_settings) == [principal.id]


@pytest.mark.parametrize(
    ("principal", "status", "code"),
    [
        (None, 401, "FORBIDDEN"),
        (AUDITOR, 403, "FORBIDDEN"),
        (OTHER_GUARDIAN, 404, "NOT_FOUND"),
        (OTHER_COUNTER, 404, "NOT_FOUND"),
        (OTHER_SCHOOL_REVIEWER, 404, "NOT_FOUND"),
    ],
    ids=["anonymous", "auditor", "other-family", "other-township", "other-school"],
)
def test_everyone_else_is_refused_and_nothing_is_audited(
    seeded_settings: Settings,
    material_id: int,
    principal: Principal | None,
    status: int,
    code: str,
) -> None:
    response = fetch(seeded_settings, material_id, principal)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert PDF not in response.content
    assert response.headers["x-content-type-options"] == "nosniff"
    assert downloads_audited(seeded_settings) == []


def test_a_missing_material_answers_like_one_out_of_scope(
    seeded_settings: Settings, material_id: int
) -> None:
    missing = fetch(seeded_settings, material_id + 1000, BUREAU)
    hidden = fetch(seeded_settings, material_id, OTHER_GUARDIAN)
    assert (missing.status_code, missing.json()) == (hidden.status_code, hidden.json())


def test_an_ascii_fallback_name_keeps_no_unsafe_character() -> None:
    header = content_disposition('a"b\r\n;c.pdf')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback == "a_b___c.pdf"
    assert "\r" not in header and "\n" not in header
