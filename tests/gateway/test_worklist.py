"""The work lists over GraphQL (in-process): Relay pages, filters, typed refusals, and the
statement budget of a page with everything nested in it."""

from __future__ import annotations

from typing import Any, Final

from statement_counting import counting

from ruxue_core.domain import Evidence, Material, Review
from ruxue_core.domain.enums import Outcome, ReviewDecision, Status
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
PAGE: Final = """
query($first: Int!, $after: String, $filter: ApplicationFilterInput) {
  applications(first: $first, after: $after, filter: $filter) {
    __typename
    ... on ApplicationConnection {
      edges {
        cursor
        node {
          id receiptNo status channel townshipCode schoolCode childName childIdNumber
          guardianName guardianPhone address
          evidence { source outcome outcomeLabel }
          reviews { step decision comment reviewer }
          materials { kind filename size sha256 }
          assessment { category schools materials { code } }
          outstandingMaterials { code name }
          consentRef
        }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
    ... on Error { code field message }
  }
}"""
MINE: Final = """
query($first: Int!, $after: String) {
  myApplications(first: $first, after: $after) {
    __typename
    ... on ApplicationConnection {
      edges { node { id reviews { reviewer } evidence { outcome } } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Error { code field }
  }
}"""


async def run(
    runtime: Runtime, principal: Principal | None, query: str, **variables: Any
) -> dict[str, Any]:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    assert isinstance(value, dict)
    return value


async def seed(runtime: Runtime, season: str, n: int) -> list[int]:
    """``n`` applications of guardian A in 燕矶镇, each with a check, a review and a material."""
    ids = []
    for _ in range(n):
        command = submit_command(season, child_id=child_id_number())
        ids.append((await submit_application(runtime, command, GUARDIAN)).application_id)

    def attach(uow: UnitOfWork) -> None:
        for application_id in ids:
            uow.session.add(
                Evidence(
                    application_id=application_id,
                    source="hukou",
                    subject="guardian",
                    plugin="test",
                    outcome=Outcome.MATCH,
                    facts_ct=uow.cipher.encrypt_json({}, purpose="evidence.facts"),
                )
            )
            uow.session.add(
                Review(
                    application_id=application_id,
                    step=Status.MANUAL_REVIEW,
                    decision=ReviewDecision.APPROVE,
                    reviewer="counter-1",
                )
            )
            uow.session.add(
                Material(
                    application_id=application_id,
                    kind="hukou_book",
                    filename="户口簿.pdf",
                    content_type="application/pdf",
                    size=1024,
                    sha256="0" * 64,
                    storage_key=f"m/{application_id}",
                )
            )
        uow.commit()

    await runtime.write(attach)
    return ids


async def test_a_page_of_50_costs_what_a_page_of_5_costs(runtime: Runtime, season: str) -> None:
    await seed(runtime, season, 55)
    counts = {}
    for size in (5, 50):
        with counting(runtime) as counted:
            page = await run(runtime, BUREAU, PAGE, first=size)
        assert len(page["edges"]) == size
        node = page["edges"][-1]["node"]
        assert node["evidence"] and node["reviews"] and node["materials"] and node["consentRef"]
        counts[size] = (len(counted.statements), counted.units)
    # the page itself, then one statement each for evidence, reviews, materials, assessments
    # (the outstanding materials come from those two) and consents
    assert counts[50] == counts[5] == (6, 6), counts


async def test_paging_through_with_cursors(runtime: Runtime, season: str) -> None:
    ids = await seed(runtime, season, 7)
    seen: list[str] = []
    after = None
    while True:
        page = await run(runtime, COUNTER, PAGE, first=3, after=after)
        assert page["__typename"] == "ApplicationConnection"
        seen += [edge["node"]["id"] for edge in page["edges"]]
        info = page["pageInfo"]
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == [str(i) for i in ids]
    node = page["edges"][0]["node"]
    assert node["childIdNumber"].count("*") == 10
    assert node["guardianPhone"] == "138****5678"
    assert node["reviews"][0]["reviewer"] == "counter-1"


async def test_filters_and_scope(runtime: Runtime, season: str) -> None:
    ids = await seed(runtime, season, 3)
    receipt = (await run(runtime, BUREAU, PAGE, first=1))["edges"][0]["node"]["receiptNo"]
    found = await run(runtime, BUREAU, PAGE, first=10, filter={"receiptNo": receipt})
    assert [e["node"]["id"] for e in found["edges"]] == [str(ids[0])]
    counter = await run(runtime, BUREAU, PAGE, first=10, filter={"channel": "COUNTER"})
    assert counter["edges"] == []
    assert counter["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }
    review = await run(runtime, BUREAU, PAGE, first=10, filter={"statuses": ["SUBMITTED"]})
    assert len(review["edges"]) == 3
    assert (await run(runtime, OTHER_COUNTER, PAGE, first=10))["edges"] == []


async def test_refusals_are_typed(runtime: Runtime, season: str) -> None:
    await seed(runtime, season, 1)
    assert (await run(runtime, None, PAGE, first=5))["code"] == "FORBIDDEN"
    assert (await run(runtime, GUARDIAN, PAGE, first=5))["code"] == "FORBIDDEN"
    too_many = await run(runtime, BUREAU, PAGE, first=1000)
    assert (too_many["code"], too_many["field"]) == ("INVALID_INPUT", "first")
    for cursor in ("garbage", "YXBwbGljYXRpb246LTE", "am9iOjE", "x" * 100):
        bad = await run(runtime, BUREAU, PAGE, first=5, after=cursor)
        assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "after"), cursor
    bad_prefix = await run(runtime, BUREAU, PAGE, first=5, filter={"receiptNo": "%"})
    assert bad_prefix["field"] == "filter.receiptNo"
    assert (await run(runtime, BUREAU, MINE, first=5))["code"] == "FORBIDDEN"


async def test_my_applications(runtime: Runtime, season: str) -> None:
    ids = await seed(runtime, season, 2)
    mine = await run(runtime, GUARDIAN, MINE, first=5)
    assert [e["node"]["id"] for e in mine["edges"]] == [str(i) for i in ids]
    assert mine["edges"][0]["node"]["reviews"] == [{"reviewer": None}]
    assert mine["edges"][0]["node"]["evidence"] == [{"outcome": "MATCH"}]
