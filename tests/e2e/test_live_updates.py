"""Live updates over real HTTP: ``ruxue serve`` in its own process, a separate ``ruxue worker``
process verifying, and a guardian following the application with ``gql``'s
WebsocketsTransport. Every status change committed by either process reaches the guardian;
a forged token is refused at ``connection_init``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from bench.servers import Deployment, Processes
from gql.transport.exceptions import TransportError
from live_updates import follow, live_updates
from websockets.exceptions import ConnectionClosed

from ruxue_core.testing.factories import GUARDIAN_ID, child_id_number

SUBMIT: Final = """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  __typename ... on SubmitApplicationSuccess { applicationId status } } }"""
REVIEW: Final = """mutation($input: ReviewApplicationInput!) { reviewApplication(input: $input) {
  __typename ... on ApplicationChanged { status version } ... on Error { code message } } }"""
TIMEOUT: Final = 180.0  # generous: a loaded machine starts the worker process slowly

pytestmark = pytest.mark.slow


def post(url: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_a_guardian_follows_changes_from_the_gateway_and_a_worker(tmp_path: Path) -> None:
    deployment = Deployment(
        "live", tmp_path / "var", database_url=os.environ.get("RUXUE_TEST_DATABASE_URL")
    )
    if deployment.database_url:
        pytest.skip("the e2e run uses its own SQLite file (PostgreSQL: tests/gateway)")
    await asyncio.to_thread(deployment.prepare)
    guardian = deployment.token(
        "--role", "guardian", "--subject", "g-1", "--id-number", GUARDIAN_ID
    )
    counter = deployment.token(
        "--role", "counter_staff", "--subject", "c-1", "--region", "420704101"
    )
    with Processes(tmp_path / "logs") as processes:
        url = await asyncio.to_thread(deployment.serve, processes, "gateway", worker=False)
        form = {
            "seasonCode": "2026-primary",
            "child": {"name": "张小明", "idNumber": child_id_number(77)},
            "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
            "guardianPhone": "13812345678",
            "relationship": "FATHER",
            "address": "燕矶镇新街10号",
            "townshipCode": "420704101",
            "consent": True,
        }
        submitted = post(url, guardian, SUBMIT, input=form)["submitApplication"]
        application_id = submitted["applicationId"]

        async with live_updates(url, guardian) as session:
            updates = follow(session, application_id)
            first = await asyncio.wait_for(anext(updates), TIMEOUT)
            assert (first["status"], first["previousStatus"]) == ("SUBMITTED", None)
            # Another process verifies: no verifier configured, so manual review.
            await asyncio.to_thread(deployment.worker, processes, "worker")
            seen = [await asyncio.wait_for(anext(updates), TIMEOUT) for _ in range(2)]
            assert [(u["previousStatus"], u["status"]) for u in seen] == [
                ("SUBMITTED", "VERIFYING"),
                ("VERIFYING", "MANUAL_REVIEW"),
            ]
            # Counter staff confirm it through the gateway.
            review = {"applicationId": application_id, "decision": "APPROVE"}
            decided = post(url, counter, REVIEW, input=review)["reviewApplication"]
            last = await asyncio.wait_for(anext(updates), TIMEOUT)
            assert (last["previousStatus"], last["status"]) == ("MANUAL_REVIEW", decided["status"])
            assert last["version"] == decided["version"]
            assert "childName" not in last and "guardianPhone" not in last
            await updates.aclose()  # type: ignore[attr-defined]

        with pytest.raises((TransportError, ConnectionClosed, OSError)):
            async with live_updates(url, guardian[:-4] + "AAAA") as session:
                await asyncio.wait_for(anext(follow(session, application_id)), TIMEOUT)
        processes.check_running()
