"""Persisted queries over HTTP: Apollo's ``extensions.persistedQuery`` shape, the allow-list
file written by ``ruxue queries register``, and enforcement before parsing and costing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ruxue_core.settings import PersistedQuerySettings, Settings
from ruxue_gateway.app import create_app
from ruxue_gateway.cli import app as cli
from ruxue_gateway.persisted import MANIFEST_FORMAT, document_hash, read_manifest, register

SEASONS: Final = "query Seasons { seasons { code } }"
VIEWER: Final = "{ viewer { id } }"


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


@pytest.fixture
def manifest(settings: Settings) -> Path:
    path = settings.data_dir / "persisted-queries.json"
    register(path, [SEASONS])
    return path


def with_list(settings: Settings, path: Path, *, enforce: bool) -> Settings:
    return settings.model_copy(
        update={"persisted_queries": PersistedQuerySettings(file=path, enforce=enforce)}
    )


def test_register_writes_an_apollo_manifest(tmp_path: Path) -> None:
    path = tmp_path / "pq.json"
    (digest,) = register(path, [SEASONS])
    assert digest == document_hash(SEASONS)
    register(path, [VIEWER, SEASONS])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == MANIFEST_FORMAT
    assert [(o["name"], o["type"]) for o in data["operations"]] == [
        ("Seasons", "query"),
        ("", "query"),
    ]
    assert read_manifest(path) == {digest: SEASONS, document_hash(VIEWER): VIEWER}
    with pytest.raises(ValueError, match="not a GraphQL document"):
        register(path, ["query {"])


def test_the_cli_registers_files(settings: Settings, tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "allow.json"
    monkeypatch.setenv("RUXUE_PERSISTED_QUERIES__FILE", str(target))
    monkeypatch.setenv("RUXUE_DATA_DIR", str(tmp_path / "var"))
    document = tmp_path / "seasons.graphql"
    document.write_text(SEASONS, encoding="utf-8")
    listed = tmp_path / "ops.json"
    listed.write_text(json.dumps([VIEWER]), encoding="utf-8")
    result = CliRunner().invoke(cli, ["queries", "register", str(document), str(listed)])
    assert result.exit_code == 0, result.output
    assert document_hash(SEASONS) in result.output
    assert set(read_manifest(target)) == {document_hash(SEASONS), document_hash(VIEWER)}
    assert document_hash(VIEWER) in CliRunner().invoke(cli, ["queries", "list"]).output
    broken = tmp_path / "broken.graphql"
    broken.write_text("query {", encoding="utf-8")
    assert CliRunner().invoke(cli, ["queries", "register", str(broken)]).exit_code == 2


def test_hash_only_requests_run_registered_documents(settings: Settings, manifest: Path) -> None:
    app = create_app(with_list(settings, manifest, enforce=False), in_process_worker=False)
    with TestClient(app) as client:
        by_hash = client.post("/graphql", json={"extensions": persisted(document_hash(SEASONS))})
        assert by_hash.json() == {"data": {"seasons": []}}
        unknown = client.post("/graphql", json={"extensions": persisted("0" * 64)}).json()
        assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"  # Apollo's retry cue
        # Not enforced: any document runs, and a hash sent with it must be its own.
        assert client.post("/graphql", json={"query": VIEWER}).json() == {"data": {"viewer": None}}
        both = {"query": VIEWER, "extensions": persisted(document_hash(VIEWER))}
        assert client.post("/graphql", json=both).json() == {"data": {"viewer": None}}
        wrong = {"query": VIEWER, "extensions": persisted(document_hash(SEASONS))}
        assert codes(client.post("/graphql", json=wrong).json()) == [
            "PERSISTED_QUERY_HASH_MISMATCH"
        ]
        malformed = client.post("/graphql", json={"extensions": persisted("xyz")}).json()
        assert codes(malformed) == ["PERSISTED_QUERY_HASH_MISMATCH"]


def test_enforced_lists_refuse_other_documents_before_costing(
    settings: Settings, manifest: Path
) -> None:
    app = create_app(with_list(settings, manifest, enforce=True), in_process_worker=False)
    costly = "{ " + " ".join(f"a{i}: schools {{ code name }}" for i in range(15)) + " }"
    with TestClient(app) as client:
        assert client.post("/graphql", json={"query": SEASONS}).json() == {"data": {"seasons": []}}
        by_hash = {"extensions": persisted(document_hash(SEASONS))}
        assert client.post("/graphql", json=by_hash).json() == {"data": {"seasons": []}}
        for document in (VIEWER, costly, "query {", SEASONS + " "):
            refused = client.post("/graphql", json={"query": document})
            assert refused.status_code == 200
            assert codes(refused.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"], document
            assert refused.json()["data"] is None
        # A front end's release registers more; the gateway reads the file again.
        register(manifest, [VIEWER])
        app.state.persisted_queries._checked = float("-inf")
        assert client.post("/graphql", json={"query": VIEWER}).json() == {"data": {"viewer": None}}
        metrics = client.get("/metrics").text
        assert 'operation="invalid",outcome="error"' in metrics
