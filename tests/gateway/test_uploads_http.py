"""``uploadMaterial`` over HTTP as a GraphQL multipart request (httpx through Starlette's test
client): the upload, the preflight header it needs (CSRF), the body limit that lets an upload
through up to the material size limit on multipart requests only, and a JSON request that
names no file part."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Final

import httpx2
import pytest
from material_helpers import PDF, application_in
from starlette.testclient import TestClient

from ruxue_core.domain.enums import Status
from ruxue_core.material_store import storage_root
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, UploadSettings
from ruxue_core.testing.factories import GUARDIAN, OTHER_GUARDIAN
from ruxue_gateway.app import create_app

MAX_UPLOAD: Final = 512 * 1024  # more than the ordinary body limit (256 KiB)
UPLOAD = """mutation($input: UploadMaterialInput!) { uploadMaterial(input: $input) {
  __typename
  ... on MaterialUploadedPayload { applicationId
      material { kind filename contentType size sha256 } outstandingMaterials { code } }
  ... on Error { code field } } }"""
OUTSTANDING = "query($id: ID!) { application(id: $id) { ... on Application { outstandingMaterials { code } } } }"  # noqa: E501
PREFLIGHT: Final = {"Apollo-Require-Preflight": "true"}


@pytest.fixture
def upload_settings(seeded_settings: Settings) -> Settings:
    return seeded_settings.model_copy(update={"uploads": UploadSettings(max_bytes=MAX_UPLOAD)})


@pytest.fixture
def application_id(upload_settings: Settings, season_file: SeasonFile) -> str:
    async def make() -> int:
        runtime = Runtime.create(upload_settings)
        try:
            return await application_in(runtime, season_file.season.code, Status.MANUAL_REVIEW)
        finally:
            await runtime.close()

    return str(asyncio.run(make()))


def auth(settings: Settings, principal: Any = GUARDIAN) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(settings, principal)}"}


def multipart(
    client: TestClient,
    headers: dict[str, str],
    application_id: str,
    content: bytes,
    *,
    name: str = "户口簿.pdf",
) -> httpx2.Response:
    """POST one ``uploadMaterial`` as the GraphQL multipart request spec describes it."""
    variables = {"input": {"applicationId": application_id, "code": "hukou_book", "file": None}}
    return client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": UPLOAD, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (name, content, "application/pdf")},
        headers=headers,
    )


def stored(settings: Settings) -> list[Path]:
    root = storage_root(settings)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_guardian_uploads_over_multipart(upload_settings: Settings, application_id: str) -> None:
    big = PDF + b"0" * (400 * 1024)  # over the ordinary body limit, under the upload limit
    headers = auth(upload_settings) | PREFLIGHT
    with TestClient(create_app(upload_settings, in_process_worker=False)) as client:
        response = multipart(client, headers, application_id, big)
        assert response.status_code == 200, response.text
        result = response.json()["data"]["uploadMaterial"]
        assert result["__typename"] == "MaterialUploadedPayload", result
        assert result["material"]["kind"] == "hukou_book"
        assert result["material"]["size"] == len(big)
        assert result["material"]["filename"] == "户口簿.pdf"
        assert result["outstandingMaterials"] == [{"code": "property_certificate"}]
        query = {"query": OUTSTANDING, "variables": {"id": application_id}}
        after = client.post("/graphql", json=query, headers=auth(upload_settings)).json()
        assert after["data"]["application"]["outstandingMaterials"] == [
            {"code": "property_certificate"}
        ]
    (path,) = stored(upload_settings)
    assert b"%PDF" not in path.read_bytes()


def test_not_yours_is_not_found(upload_settings: Settings, application_id: str) -> None:
    headers = auth(upload_settings, OTHER_GUARDIAN) | PREFLIGHT
    with TestClient(create_app(upload_settings, in_process_worker=False)) as client:
        result = multipart(client, headers, application_id, PDF).json()["data"]["uploadMaterial"]
    assert result == {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "applicationId"}
    assert stored(upload_settings) == []


def test_a_multipart_request_without_a_preflight_header_is_refused(
    upload_settings: Settings, application_id: str
) -> None:
    with TestClient(create_app(upload_settings, in_process_worker=False)) as client:
        response = multipart(client, auth(upload_settings), application_id, PDF)
    assert response.status_code == 400
    assert "Apollo-Require-Preflight" in response.text
    assert stored(upload_settings) == []


def test_the_body_limit_follows_the_upload_limit_on_multipart_only(
    upload_settings: Settings, application_id: str
) -> None:
    headers = auth(upload_settings) | PREFLIGHT
    with TestClient(create_app(upload_settings, in_process_worker=False)) as client:
        # Just over the file limit, within the multipart overhead: the core refuses it, typed.
        over = multipart(client, headers, application_id, PDF + b"0" * MAX_UPLOAD)
        assert over.json()["data"]["uploadMaterial"] == {
            "__typename": "InvalidInputError",
            "code": "INVALID_INPUT",
            "field": "file",
        }
        # Far beyond it: 413 before anything is parsed.
        huge = multipart(client, headers, application_id, PDF + b"0" * (2 * MAX_UPLOAD))
        assert huge.status_code == 413
        # A JSON body of the size a multipart one may have is still refused.
        padded = {"query": UPLOAD, "variables": {"pad": "x" * (400 * 1024)}}
        assert client.post("/graphql", json=padded, headers=headers).status_code == 413
    assert stored(upload_settings) == []


def test_a_json_request_without_a_file_part_is_invalid_input(
    upload_settings: Settings, application_id: str
) -> None:
    variables = {"input": {"applicationId": application_id, "code": "hukou_book", "file": "x"}}
    with TestClient(create_app(upload_settings, in_process_worker=False)) as client:
        response = client.post(
            "/graphql",
            json={"query": UPLOAD, "variables": variables},
            headers=auth(upload_settings),
        )
    result = response.json()["data"]["uploadMaterial"]
    assert (result["__typename"], result["field"]) == ("InvalidInputError", "file")
