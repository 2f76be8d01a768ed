"""SMS at the gateway: the vendors' receipt callback route (secret path token, idempotent),
and the staff's GraphQL views and resend action."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import open_sample_season
from pydantic import SecretStr
from sms_helpers import ScriptedNotifier, messages, queue_messages
from starlette.testclient import TestClient

from ruxue_core.domain import Message
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import Principal, SmsReceipt, SmsRequest
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, SmsSettings
from ruxue_core.testing.factories import ADMIN, BUREAU, SCHOOL_REVIEWER
from ruxue_core.testing.fakes import CapturingNotifierPlugin
from ruxue_gateway.app import create_app
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
TOKEN = "a-long-secret-path-token"


def sms_settings(settings: Settings, *notifiers: str) -> Settings:
    return settings.model_copy(
        update={
            "notifiers": list(notifiers),
            "sms": SmsSettings(receipt_token=SecretStr(TOKEN), max_attempts=2),
        }
    )


def test_receipt_callbacks_are_token_guarded_and_idempotent(
    settings: Settings, season_file: SeasonFile
) -> None:
    tuned = sms_settings(settings, "devlog")

    async def send() -> list[Message]:
        rt = Runtime.create(tuned)
        try:
            season = await open_sample_season(rt, season_file)
            await queue_messages(rt, season, 2)
            await Worker(rt, HANDLERS).drain()
            return await messages(rt)
        finally:
            await rt.close()

    async def read() -> list[Message]:
        rt = Runtime.create(tuned)
        try:
            return await messages(rt)
        finally:
            await rt.close()

    sent = asyncio.run(send())
    assert {m.status for m in sent} == {MessageStatus.ACCEPTED}
    first, second = sent[0], sent[1]
    body = [
        {"vendor_message_id": first.vendor_message_id, "status": "delivered"},
        {"vendor_message_id": second.vendor_message_id, "status": "failed"},
    ]
    with TestClient(create_app(tuned, in_process_worker=False)) as client:
        wrong = client.post("/sms/receipts/devlog/not-the-token", json=body)
        assert wrong.status_code == 404
        assert {m.id: m.status for m in asyncio.run(read())} == {m.id: m.status for m in sent}
        for _ in range(3):  # vendors repeat callbacks
            answer = client.post(f"/sms/receipts/devlog/{TOKEN}", json=body)
            assert answer.status_code == 200
            assert (answer.json()["code"], answer.json()["result"]) == (0, 0)
        assert client.post(f"/sms/receipts/devlog/{TOKEN}", content=b"{oops").status_code == 400
        assert client.post(f"/sms/receipts/nobody/{TOKEN}", json=body).status_code == 404
    after = {m.id: m for m in asyncio.run(read())}
    assert after[first.id].status is MessageStatus.DELIVERED
    assert after[first.id].delivered_at is not None
    assert after[second.id].status is MessageStatus.FAILED
    assert "回执" in (after[second.id].error or "")
    untouched = [m for m in after.values() if m.id not in {first.id, second.id}]
    assert all(m.status is MessageStatus.ACCEPTED for m in untouched)


def test_without_a_token_configured_the_route_is_not_there(settings: Settings) -> None:
    with TestClient(create_app(settings, in_process_worker=False)) as client:
        assert client.post("/sms/receipts/devlog/anything", json=[]).status_code == 404


async def gql(runtime: Runtime, principal: Principal, query: str, **variables: Any) -> Any:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    return value


MESSAGES = """query($id: ID!) { applicationMessages(applicationId: $id) {
  __typename ... on SmsMessageList { messages { id status statusLabel vendor attempts reason
  phone template } } ... on Error { code } } }"""
FAILED = """query { failedMessages(first: 10) { __typename
  ... on SmsMessageList { messages { id status reason receiptNo } } ... on Error { code } } }"""
RESEND = """mutation($input: ResendMessageInput!) { resendMessage(input: $input) {
  __typename ... on ResendMessageSuccess { sms { id status attempts resends } }
  ... on Error { code message } } }"""


def flaky_once(request: SmsRequest, n: int) -> SmsReceipt | None:
    """Refuses every message for good the first time round, accepts afterwards."""
    if n <= 3:
        return SmsReceipt(MessageStatus.PERMANENT_FAILURE, vendor_code="isv.OUT", detail="停机")
    return None


async def test_staff_see_statuses_and_reasons_and_resend_a_failed_message(
    settings: Settings, season_file: SeasonFile
) -> None:
    vendor = ScriptedNotifier("v", flaky_once)
    tuned = sms_settings(settings, "v")
    rt = Runtime.create(tuned, extra_plugins=[CapturingNotifierPlugin(vendor, name="v")])
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 1)
        await Worker(rt, HANDLERS).drain()
        rows = await messages(rt)
        application_id = str(rows[0].application_id)
        listed = await gql(rt, BUREAU, MESSAGES, id=application_id)
        assert listed["__typename"] == "SmsMessageList"
        assert len(listed["messages"]) == len(rows)
        failed_first = [m for m in listed["messages"] if m["status"] == "FAILED"]
        assert failed_first, listed
        for message in failed_first:
            assert message["reason"] == "v: [isv.OUT] 停机"
            assert message["statusLabel"] == "发送失败"
            assert message["phone"].count("*") >= 4
        failed = await gql(rt, ADMIN, FAILED)
        assert {m["id"] for m in failed["messages"]} == {m["id"] for m in failed_first}

        target = failed_first[0]["id"]
        refused = await gql(rt, SCHOOL_REVIEWER, RESEND, input={"messageId": target})
        assert refused["__typename"] == "ForbiddenError"
        resent = await gql(rt, BUREAU, RESEND, input={"messageId": target})
        assert resent["__typename"] == "ResendMessageSuccess"
        assert resent["sms"]["status"] == "QUEUED"
        assert resent["sms"]["resends"] == 1
        again = await gql(rt, BUREAU, RESEND, input={"messageId": target})
        assert again["__typename"] == "InvalidTransitionError"
        await Worker(rt, HANDLERS).drain()
        final = {m.id: m for m in await messages(rt)}
    finally:
        await rt.close()
    assert final[int(target)].status is MessageStatus.ACCEPTED
    assert final[int(target)].resends == 1
    assert vendor.accepted[target] == 1
