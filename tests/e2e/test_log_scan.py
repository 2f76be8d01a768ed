"""Requests that fail validation log nothing of what they carried (the whole suite here also
runs under the log scan of ``tests/log_capture.py``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID, child_id_number
from ruxue_core.testing.logscan import LogScan, personal_numbers
from ruxue_gateway.app import create_app

SUBMIT = """
mutation Submit($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { __typename ... on Error { field } }
}"""


def _incomplete(season: str, relationship: str = "UNCLE") -> dict[str, Any]:
    """A submission missing ``guardianPhone`` (a draft may leave fields out, so the schema
    does not require it) with a ``relationship`` of no such value (a GraphQL validation error
    by default), carrying real-looking personal numbers."""
    return {
        "seasonCode": season,
        "child": {"name": "张小明", "idNumber": child_id_number()},
        "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
        "relationship": relationship,
        "address": "燕矶镇新街10号 13812345678",
        "townshipCode": "420704101",
    }


@pytest.mark.parametrize("signed_in", [False, True])
def test_invalid_variables_are_not_logged(
    seeded_settings: Settings, no_personal_numbers_in_logs: LogScan, signed_in: bool
) -> None:
    """A submission with an invalid field gets a validation error naming the field, one with a
    missing field a typed error naming it; no log line (at any level) carries the ID or phone
    numbers they held."""
    headers = {"Authorization": f"Bearer {issue_dev_token(seeded_settings, GUARDIAN)}"}
    with TestClient(create_app(seeded_settings, in_process_worker=False)) as client:
        body = {"query": SUBMIT, "variables": {"input": _incomplete("2026-primary")}}
        response = client.post("/graphql", json=body, headers=headers if signed_in else {})
        missing = {"query": SUBMIT, "variables": {"input": _incomplete("2026-primary", "FATHER")}}
        typed = client.post("/graphql", json=missing, headers=headers if signed_in else {})
    errors = response.json()["errors"]
    assert "relationship" in errors[0]["message"]
    assert typed.json()["data"]["submitApplication"]["field"] == "guardianPhone"
    assert logging.getLogger().level == logging.DEBUG  # the scan sees every level
    assert no_personal_numbers_in_logs.lines, "the request should have logged something"
    assert not any(personal_numbers(line) for line in no_personal_numbers_in_logs.lines)
