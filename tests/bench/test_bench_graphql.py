"""What the GraphQL layer costs, executed in-process (no HTTP), side by side in one run.

1. The public ``applicationStatus`` lookup through the production schema (parser and
   validation caches on) and through the same schema without those two caches: once for a
   lookup that finds its application, once for a malformed receipt number, which is refused
   before any database access and so shows the GraphQL work alone.
2. ``submitApplication`` through ``schema.execute`` against the core's ``submit_application``
   called directly: the GraphQL overhead on a write.

Prints per-call medians and their ratios (run with ``-s``); machines are noisy, so compare
the ratios, and never turn a figure into a pass/fail threshold. Asserts only that every call
returned what it should.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from typing import Any, Final

import strawberry

from ruxue_core.domain.enums import Relationship, Status
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import PersonInput, SubmitApplication, submit_application
from ruxue_core.settings import LimitSettings, Settings
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID, submit_command
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

ROUNDS: Final = 5
STATUS_CALLS: Final = 60  # per variant and round
SUBMIT_CALLS: Final = 12  # per variant and round
WARMUP: Final = 10

STATUS = """
query Status($receiptNo: String!, $queryCode: String!) {
  applicationStatus(receiptNo: $receiptNo, queryCode: $queryCode) {
    __typename
    ... on StatusLookup { receiptNo status statusLabel childName schoolName updatedAt }
    ... on Error { code message field }
  }
}"""
SUBMIT = """
mutation Submit($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    __typename
    ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
    ... on Error { code message field }
  }
}"""

Call = Callable[[], Awaitable[None]]


async def medians(variants: dict[str, Call], calls: int) -> dict[str, float]:
    """Median seconds per call of each variant, interleaved over ``ROUNDS`` rounds."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for call in variants.values():
        for _ in range(WARMUP):
            await call()
    order = list(variants)
    for _ in range(ROUNDS):
        for name in order:
            call = variants[name]
            for _ in range(calls):
                start = time.perf_counter()
                await call()
                samples[name].append(time.perf_counter() - start)
        order.reverse()  # neither variant always runs first
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, figures: dict[str, float], ratio: tuple[str, str]) -> None:
    """One line: each median in ms, then ``numerator/denominator``."""
    numerator, denominator = ratio
    parts = "   ".join(f"{name} {seconds * 1000:7.3f} ms" for name, seconds in figures.items())
    print(
        f"{title:<44} {parts}   {numerator}/{denominator} "
        f"{figures[numerator] / figures[denominator]:5.2f}x"
    )


def children() -> Iterator[str]:
    """Unique, age-eligible child ID numbers for the sample season."""
    born = date(2020, 8, 31)
    while True:
        for sequence in range(1000):
            yield make_national_id("420704", born, sequence)
        born -= timedelta(days=1)


async def test_status_lookup_with_and_without_caches(settings: Settings, season: str) -> None:
    """``applicationStatus``: production schema against the same schema without caches."""
    # One client makes every lookup here: lift its rate limit out of the way.
    unlimited = LimitSettings(lookups_per_minute_per_client=10**9)
    runtime = Runtime.create(settings.model_copy(update={"limits": unlimited}))
    try:
        await lookups(runtime, season)
    finally:
        await runtime.close()


async def lookups(runtime: Runtime, season: str) -> None:
    """The lookup benchmark proper."""
    submitted = await submit_application(runtime, submit_command(season), GUARDIAN)
    cached = build_schema(production=True)
    uncached = build_schema(production=True, cached_document_chars=None)
    context = Context(runtime=runtime, principal=None)

    def lookup(schema: strawberry.Schema, receipt_no: str, expected: str) -> Call:
        variables = {"receiptNo": receipt_no, "queryCode": submitted.query_code}

        async def call() -> None:
            result = await schema.execute(STATUS, variable_values=variables, context_value=context)
            assert result.errors is None, result.errors
            assert result.data is not None
            assert result.data["applicationStatus"]["__typename"] == expected

        return call

    backend = runtime.db.engine.dialect.name
    found = await medians(
        {
            "cached": lookup(cached, submitted.receipt_no, "StatusLookup"),
            "uncached": lookup(uncached, submitted.receipt_no, "StatusLookup"),
        },
        STATUS_CALLS,
    )
    report(f"applicationStatus, found ({backend})", found, ("uncached", "cached"))
    refused = await medians(
        {
            "cached": lookup(cached, "not-a-receipt", "InvalidInputError"),
            "uncached": lookup(uncached, "not-a-receipt", "InvalidInputError"),
        },
        STATUS_CALLS,
    )
    report("applicationStatus, malformed (no DB access)", refused, ("uncached", "cached"))


async def test_submit_through_graphql_and_directly(runtime: Runtime, season: str) -> None:
    """``submitApplication`` via ``schema.execute`` against the core service called directly."""
    schema = build_schema()
    context = Context(runtime=runtime, principal=GUARDIAN)
    child_ids = children()
    submitted: list[Status] = []

    def form(child_id: str) -> dict[str, Any]:
        return {
            "seasonCode": season,
            "child": {"name": "张小明", "idNumber": child_id},
            "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
            "guardianPhone": "13812345678",
            "relationship": "FATHER",
            "address": "燕矶镇新街10号",
            "townshipCode": "420704101",
        }

    async def through_graphql() -> None:
        result = await schema.execute(
            SUBMIT, variable_values={"input": form(next(child_ids))}, context_value=context
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        payload = result.data["submitApplication"]
        assert payload["__typename"] == "SubmitApplicationSuccess", payload
        submitted.append(Status[payload["status"]])

    async def directly() -> None:
        command = SubmitApplication(
            season_code=season,
            child=PersonInput("张小明", next(child_ids)),
            guardian=PersonInput("张三", GUARDIAN_ID),
            guardian_phone="13812345678",
            relationship=Relationship.FATHER,
            address="燕矶镇新街10号",
            township_code="420704101",
        )
        result = await submit_application(runtime, command, GUARDIAN)
        submitted.append(result.status)

    figures = await medians({"graphql": through_graphql, "direct": directly}, SUBMIT_CALLS)
    backend = runtime.db.engine.dialect.name
    report(f"submitApplication ({backend})", figures, ("graphql", "direct"))
    expected = 2 * (WARMUP + ROUNDS * SUBMIT_CALLS)
    assert submitted == [Status.SUBMITTED] * expected
