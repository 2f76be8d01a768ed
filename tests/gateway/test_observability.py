"""Operations: request ids (kept when sane, made otherwise, echoed, carried into JSON logs
behind the redacting filter), CORS from settings, and /metrics per operation and job kind."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from ruxue_core.logs import JsonFormatter, RedactingFilter
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID, child_id_number
from ruxue_gateway.app import create_app
from ruxue_gateway.requests import SANE, new_request_id

VIEWER = {"query": "{ viewer { id } }"}
MADE_ID = re.compile(r"[a-z2-7]{26}")  # base32, see new_request_id


class Lines(logging.Handler):
    """Keeps the formatted lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    """A JSON handler on the root logger, behind the redacting filter, as production has."""
    handler = Lines()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_request_ids(settings: Settings, json_lines: Lines) -> None:
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        made = client.post("/graphql", json=VIEWER).headers["x-request-id"]
        assert MADE_ID.fullmatch(made)
        assert client.post("/graphql", json=VIEWER).headers["x-request-id"] != made
        kept = client.post("/graphql", json=VIEWER, headers={"X-Request-ID": "lb-42:a.b_c"})
        assert kept.headers["x-request-id"] == "lb-42:a.b_c"
        for insane in (b"x" * 65, b"has space", "引号".encode(), b"", b"a\x00b"):
            headers = [(b"x-request-id", insane)]
            replaced = client.post("/graphql", json=VIEWER, headers=headers)
            assert MADE_ID.fullmatch(replaced.headers["x-request-id"]), insane
        assert client.get("/healthz").headers["x-request-id"]
        too_large = client.post("/graphql", content=b"x" * (settings.limits.max_body_bytes + 1))
        assert too_large.status_code == 413 and too_large.headers["x-request-id"]
    entries = [json.loads(line) for line in json_lines.lines]
    access = [e for e in entries if e["logger"] == "ruxue.access"]
    assert any(e.get("request_id") == "lb-42:a.b_c" for e in access)
    assert any(e.get("request_id") == made and "POST /graphql 200" in e["message"] for e in access)


def test_json_lines_stay_redacted(json_lines: Lines) -> None:
    log = logging.getLogger("ruxue.test")
    log.warning("looked up %s", GUARDIAN_ID)
    try:
        raise ValueError(f"bad number {GUARDIAN_ID}")
    except ValueError:
        log.exception("failed")
    text = "\n".join(json_lines.lines)
    assert GUARDIAN_ID not in text
    first, second = (json.loads(line) for line in json_lines.lines)
    assert first["message"] == "looked up 4207**********1233"
    assert first["level"] == "WARNING" and "request_id" not in first
    assert "4207**********1233" in second["exception"]


def test_cors_from_settings(settings: Settings) -> None:
    allowed = settings.model_copy(update={"cors_origins": ["https://portal.example.gov.cn"]})
    with TestClient(create_app(allowed, in_process_worker=False)) as client:
        preflight = client.options(
            "/graphql",
            headers={
                "Origin": "https://portal.example.gov.cn",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-request-id",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://portal.example.gov.cn"
        answer = client.post(
            "/graphql", json=VIEWER, headers={"Origin": "https://portal.example.gov.cn"}
        )
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
        stranger = client.post("/graphql", json=VIEWER, headers={"Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in stranger.headers
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        plain = client.post("/graphql", json=VIEWER, headers={"Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in plain.headers


def test_metrics_per_operation_and_job_kind(seeded_settings: Settings) -> None:
    token = issue_dev_token(seeded_settings, GUARDIAN)
    submit = {
        "query": "mutation($input: SubmitApplicationInput!) { submitApplication(input: $input)"
        " { __typename } }",
        "variables": {
            "input": {
                "seasonCode": "2026-primary",
                "child": {"name": "张小明", "idNumber": child_id_number()},
                "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
                "guardianPhone": "13812345678",
                "relationship": "FATHER",
                "address": "燕矶镇新街10号",
                "townshipCode": "420704101",
            }
        },
    }
    with TestClient(create_app(seeded_settings, in_process_worker=False)) as client:
        client.post("/graphql", json=VIEWER)
        client.post("/graphql", json={"query": "query Named { viewer { id } }"})
        client.post("/graphql", json={"query": "{ nope }"})
        client.post("/graphql", json={"query": "{ broken"})
        done = client.post("/graphql", json=submit, headers={"Authorization": f"Bearer {token}"})
        assert done.json()["data"]["submitApplication"]["__typename"] == "SubmitApplicationSuccess"
        text = client.get("/metrics").text
    assert 'ruxue_graphql_requests_total{operation="query:viewer",outcome="ok"} 2.0' in text
    assert 'ruxue_graphql_requests_total{operation="invalid",outcome="error"} 2.0' in text
    assert (
        'ruxue_graphql_requests_total{operation="mutation:submitApplication",outcome="ok"} 1.0'
        in text
    )
    assert 'ruxue_graphql_request_duration_seconds_count{operation="query:viewer"} 2.0' in text
    assert 'ruxue_jobs_by_kind{kind="verification.run",status="pending"} 1.0' in text
    assert 'ruxue_jobs{status="pending"}' in text
    assert "Named" not in text  # client-chosen names are not labels


def test_made_up_request_ids_never_look_like_a_phone_or_id_number() -> None:
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for made in ids:
        assert SANE.fullmatch(made)
        assert not re.search(r"[0189]", made)  # a mobile starts with 1; base32 has no 0, 1, 8, 9
