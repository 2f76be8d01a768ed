"""Live updates (``applicationUpdates``) in-process: who may follow an application, changes
committed by this runtime and by another one on the same database, limits and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

import pytest

from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    WithdrawApplication,
    submit_application,
    withdraw_application,
)
from ruxue_core.settings import Settings, SubscriptionSettings
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    OTHER_SCHOOL_REVIEWER,
    submit_command,
)
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
FOLLOW: Final = """
subscription($id: ID!) {
  applicationUpdates(id: $id) {
    __typename
    ... on ApplicationUpdate {
      applicationId receiptNo status statusLabel previousStatus version at
    }
    ... on Error { code field message }
  }
}"""
TIMEOUT: Final = 10.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Poll often: the tests wait for changes."""
    return settings.model_copy(
        update={"subscriptions": SubscriptionSettings(poll_seconds=0.02, per_caller=2)}
    )


async def follow(
    runtime: Runtime, principal: Principal | None, application_id: object
) -> AsyncIterator[dict[str, Any]]:
    """The subscription's results (each checked to carry no GraphQL error)."""
    stream = await SCHEMA.subscribe(
        FOLLOW,
        variable_values={"id": str(application_id)},
        context_value=Context(runtime, principal),
    )
    assert not hasattr(stream, "errors"), stream
    try:
        async for result in stream:
            assert result.errors is None, result.errors
            assert result.data is not None
            yield result.data["applicationUpdates"]
    finally:
        await stream.aclose()


async def next_of(updates: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(updates), TIMEOUT)


async def submitted(runtime: Runtime, season: str) -> int:
    return (await submit_application(runtime, submit_command(season), GUARDIAN)).application_id


async def test_the_family_receives_a_change_made_in_this_process(
    runtime: Runtime, season: str
) -> None:
    application_id = await submitted(runtime, season)
    updates = follow(runtime, GUARDIAN, application_id)
    first = await next_of(updates)
    assert first["__typename"] == "ApplicationUpdate"
    assert first["status"] == "SUBMITTED" and first["previousStatus"] is None
    assert first["applicationId"] == str(application_id)
    await withdraw_application(runtime, WithdrawApplication(application_id), GUARDIAN)
    change = await next_of(updates)
    assert change["status"] == "WITHDRAWN" and change["previousStatus"] == "SUBMITTED"
    assert change["statusLabel"] == "已撤回"
    assert change["version"] == first["version"] + 1
    assert set(change) == {
        "__typename",
        "applicationId",
        "receiptNo",
        "status",
        "statusLabel",
        "previousStatus",
        "version",
        "at",
    }  # no personal data
    await updates.aclose()  # type: ignore[attr-defined]
    assert runtime.changes.subscribers == 0


async def test_staff_in_scope_receive_a_change_committed_by_another_process(
    runtime: Runtime, season: str, settings: Settings
) -> None:
    application_id = await submitted(runtime, season)
    for_counter = follow(runtime, COUNTER, application_id)
    for_bureau = follow(runtime, BUREAU, application_id)
    assert (await next_of(for_counter))["status"] == "SUBMITTED"
    assert (await next_of(for_bureau))["status"] == "SUBMITTED"
    other = Runtime.create(settings)  # e.g. the worker process, or another gateway
    try:
        await withdraw_application(other, WithdrawApplication(application_id), GUARDIAN)
    finally:
        await other.close()
    assert (await next_of(for_counter))["status"] == "WITHDRAWN"
    assert (await next_of(for_bureau))["status"] == "WITHDRAWN"
    assert runtime.changes.polling
    await for_counter.aclose()  # type: ignore[attr-defined]
    await for_bureau.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("principal", "code"),
    [
        (None, "FORBIDDEN"),
        (OTHER_GUARDIAN, "NOT_FOUND"),
        (OTHER_COUNTER, "NOT_FOUND"),
        (OTHER_SCHOOL_REVIEWER, "NOT_FOUND"),
    ],
)
async def test_anyone_else_gets_a_typed_refusal(
    runtime: Runtime, season: str, principal: Principal | None, code: str
) -> None:
    application_id = await submitted(runtime, season)
    results = [r async for r in follow(runtime, principal, application_id)]
    assert [(r["__typename"][-5:], r["code"]) for r in results] == [("Error", code)]
    assert runtime.changes.subscribers == 0


async def test_malformed_and_missing_ids_are_refused(runtime: Runtime, season: str) -> None:
    bad = [r async for r in follow(runtime, BUREAU, "x1")]
    assert [(r["code"], r["field"]) for r in bad] == [("INVALID_INPUT", "id")]
    missing = [r async for r in follow(runtime, BUREAU, 999_999)]
    assert [(r["code"], r["field"]) for r in missing] == [("NOT_FOUND", "id")]


async def test_a_caller_may_hold_a_few_subscriptions(runtime: Runtime, season: str) -> None:
    application_id = await submitted(runtime, season)
    held = [follow(runtime, BUREAU, application_id) for _ in range(2)]
    for updates in held:
        assert (await next_of(updates))["status"] == "SUBMITTED"
    refused = [r async for r in follow(runtime, BUREAU, application_id)]
    assert [r["code"] for r in refused] == ["RATE_LIMITED"]
    assert (await next_of(follow(runtime, COUNTER, application_id)))["status"] == "SUBMITTED"
    for updates in held:
        await updates.aclose()  # type: ignore[attr-defined]


async def test_closing_the_feed_completes_subscriptions(runtime: Runtime, season: str) -> None:
    application_id = await submitted(runtime, season)
    updates = follow(runtime, GUARDIAN, application_id)
    await next_of(updates)
    rest = asyncio.create_task(asyncio.wait_for(_drain(updates), TIMEOUT))
    await asyncio.sleep(0.05)
    await runtime.changes.close()
    assert await rest == []
    assert not runtime.changes.polling


async def _drain(updates: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [u async for u in updates]
