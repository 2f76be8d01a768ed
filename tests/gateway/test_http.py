"""The Starlette app over HTTP: probes, metrics, GraphQL with bearer tokens, size limits,
lifespan worker."""

from __future__ import annotations

import base64
import time

from pydantic import SecretStr
from starlette.testclient import TestClient

from ruxue_core.keys import new_key
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.settings import LimitSettings, Mode, Settings, UploadSettings
from ruxue_core.testing.factories import BUREAU, GUARDIAN, GUARDIAN_ID, child_id_number
from ruxue_gateway.app import create_app

VIEWER = {"query": "{ viewer { id role } }"}


def test_probes_and_metrics(settings: Settings) -> None:
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        assert client.get("/healthz").text == "ok"
        assert client.get("/readyz").json() == {"ready": True}
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "ruxue_jobs" in metrics.text


def test_bearer_token_selects_the_principal(settings: Settings) -> None:
    token = issue_dev_token(settings, BUREAU)
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        anonymous = client.post("/graphql", json=VIEWER).json()
        assert anonymous == {"data": {"viewer": None}}
        signed = client.post("/graphql", json=VIEWER, headers={"Authorization": f"Bearer {token}"})
        assert signed.json() == {"data": {"viewer": {"id": "bureau-1", "role": "bureau_officer"}}}
        forged = client.post(
            "/graphql", json=VIEWER, headers={"Authorization": f"Bearer {token[:-2]}00"}
        )
        assert forged.json() == {"data": {"viewer": None}}


def test_queries_via_get_are_refused(settings: Settings) -> None:
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        response = client.get("/graphql", params={"query": "{ viewer { id } }"})
        assert response.status_code in (400, 405)


def test_production_masks_unexpected_errors(settings: Settings) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    production = settings.model_copy(
        update={
            "mode": Mode.PRODUCTION,
            "identity_providers": ["staff"],
            "pii_key": SecretStr(key),
            "session_secret": SecretStr(new_key()),
            "audit_signing_key": SecretStr(new_key()),
            "uploads": UploadSettings(storage_dir=settings.data_dir / "materials"),
        }
    )
    with TestClient(create_app(production, in_process_worker=False)) as client:
        assert client.get("/graphql").status_code in (400, 404, 405)  # no GraphiQL
        bad = client.post("/graphql", json={"query": "{ viewr { id } }"}).json()
        assert "Did you mean" not in str(bad)
        assert "viewr" in bad["errors"][0]["message"]  # validation errors are not masked
        query = {"query": "{ __schema { types { name } } }"}
        introspection = client.post("/graphql", json=query).json()
        assert introspection["data"] is None
        assert "introspection has been disabled" in introspection["errors"][0]["message"]


def test_oversized_bodies_and_documents_are_refused(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"limits": LimitSettings(max_body_bytes=2048, max_document_chars=500)}
    )
    with TestClient(create_app(limited, in_process_worker=False)) as client:
        assert client.post("/graphql", json=VIEWER).status_code == 200
        padded = {"query": "{ viewer { id } }", "variables": {"pad": "x" * 3000}}
        assert client.post("/graphql", json=padded).status_code == 413
        long_document = {"query": "{ viewer { id } }" + " " * 600}
        too_long = client.post("/graphql", json=long_document)
        assert too_long.status_code == 413
        assert client.post("/graphql", json=VIEWER).json() == {"data": {"viewer": None}}


def test_embedded_app_runs_its_worker(seeded_settings: Settings) -> None:
    """The lifespan starts an in-process worker: a submission gets verified without help."""
    settings = seeded_settings
    token = issue_dev_token(settings, GUARDIAN)
    mutation = {"query": SUBMIT, "variables": {"input": SUBMISSION}}
    with TestClient(create_app(settings)) as client:
        submitted = client.post(
            "/graphql", json=mutation, headers={"Authorization": f"Bearer {token}"}
        ).json()["data"]["submitApplication"]
        lookup = {
            "query": STATUS,
            "variables": {"r": submitted["receiptNo"], "q": submitted["queryCode"]},
        }
        status = submitted["status"]
        deadline = time.monotonic() + 15
        while status in ("SUBMITTED", "VERIFYING") and time.monotonic() < deadline:
            time.sleep(0.05)
            status = client.post("/graphql", json=lookup).json()["data"]["applicationStatus"]
            status = status["status"]
    assert status == "MANUAL_REVIEW"  # no verifier configured in tests: manual review


SUBMIT = """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  ... on SubmitApplicationSuccess { receiptNo queryCode status } } }"""
STATUS = """query($r: String!, $q: String!) { applicationStatus(receiptNo: $r, queryCode: $q) {
  ... on StatusLookup { status } } }"""
SUBMISSION = {
    "seasonCode": "2026-primary",
    "child": {"name": "张小明", "idNumber": child_id_number(5)},
    "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
    "guardianPhone": "13812345678",
    "relationship": "FATHER",
    "address": "燕矶镇新街10号",
    "townshipCode": "420704101",
}
