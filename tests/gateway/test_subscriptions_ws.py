"""``applicationUpdates`` over the app's WebSocket (graphql-transport-ws): sign-in at
``connection_init``, a forged token refused with 4403, the per-connection limit."""

from __future__ import annotations

from typing import Any, Final

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.settings import Settings, SubscriptionSettings
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID, child_id_number
from ruxue_gateway.app import create_app

PROTOCOL: Final = ["graphql-transport-ws"]
SUBMIT: Final = """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  ... on SubmitApplicationSuccess { applicationId } } }"""
FOLLOW: Final = """subscription($id: ID!) { applicationUpdates(id: $id) {
  __typename ... on ApplicationUpdate { status } ... on Error { code } } }"""
FORM: Final = {
    "seasonCode": "2026-primary",
    "child": {"name": "张小明", "idNumber": child_id_number(31)},
    "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
    "guardianPhone": "13812345678",
    "relationship": "FATHER",
    "address": "燕矶镇新街10号",
    "townshipCode": "420704101",
}


def subscribe(operation_id: str, application_id: str) -> dict[str, Any]:
    payload = {"query": FOLLOW, "variables": {"id": application_id}}
    return {"id": operation_id, "type": "subscribe", "payload": payload}


def test_sign_in_limits_and_refusals(seeded_settings: Settings) -> None:
    settings = seeded_settings.model_copy(
        update={"subscriptions": SubscriptionSettings(per_connection=1)}
    )
    token = issue_dev_token(settings, GUARDIAN)
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        submitted = client.post(
            "/graphql",
            json={"query": SUBMIT, "variables": {"input": FORM}},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]["submitApplication"]
        application_id = submitted["applicationId"]

        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json() == {"type": "connection_ack"}
            ws.send_json(subscribe("1", application_id))
            first = ws.receive_json()
            assert first["type"] == "next" and first["id"] == "1"
            assert first["payload"]["data"]["applicationUpdates"] == {
                "__typename": "ApplicationUpdate",
                "status": "SUBMITTED",
            }
            ws.send_json(subscribe("2", application_id))
            limited = ws.receive_json()
            assert (limited["type"], limited["id"]) == ("error", "2")
            ws.send_json({"id": "1", "type": "complete"})

        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert ws.receive_json() == {"type": "connection_ack"}
            ws.send_json(subscribe("1", application_id))
            refused = ws.receive_json()["payload"]["data"]["applicationUpdates"]
            assert refused == {"__typename": "ForbiddenError", "code": "FORBIDDEN"}
            assert ws.receive_json() == {"id": "1", "type": "complete"}

        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            forged = {"Authorization": f"Bearer {token[:-4]}AAAA"}
            ws.send_json({"type": "connection_init", "payload": forged})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4403
