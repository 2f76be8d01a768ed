"""Work-list filters by category and outstanding materials (with the others), and the
statistics by category and channel and in the province's aggregation shape."""

from __future__ import annotations

from typing import Any, Final

from statement_counting import counting

from ruxue_core.domain import Assessment, Material
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.counter import CreateCounterApplication, create_counter_application
from ruxue_core.testing.factories import (
    BUREAU,
    COUNTER,
    GUARDIAN,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
PAGE: Final = """
query($filter: ApplicationFilterInput) {
  applications(first: 50, filter: $filter) {
    __typename
    ... on ApplicationConnection {
      edges { node { id channel assessment { category } outstandingMaterials { code }
        evidence { outcome } reviews { decision } materials { kind } consentRef } }
    }
    ... on Error { code field }
  }
}"""
STATS: Final = """query { statistics { __typename ... on Statistics {
  total districtCode byCategory { key label count } byChannel { key count }
  verification { source passRate } backlog { status count }
  aggregation { districtCode townshipCode schoolCode category channel status count } } } }"""
# (assessment rounds as (category, asked materials), materials provided)
SHAPES: Final[tuple[tuple[list[tuple[str, list[str]]], list[str]], ...]] = (
    ([("A", ["hukou_book", "property_certificate"])], ["hukou_book"]),  # property outstanding
    ([("C", ["hukou_book"])], ["hukou_book"]),  # nothing outstanding
    ([], []),  # not assessed yet
    ([("B", ["insurance_record"]), ("D", ["hukou_book"])], []),  # latest: D, hukou outstanding
)


async def run(runtime: Runtime, principal: Principal, query: str, **variables: Any) -> Any:
    """Execute and return the one result."""
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, principal)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    (value,) = result.data.values()
    return value


async def seed(runtime: Runtime, season: str) -> list[str]:
    """One application per shape (the last one taken at the counter)."""
    ids = []
    for n, _ in enumerate(SHAPES):
        command = submit_command(season, child_id=child_id_number())
        if n == len(SHAPES) - 1:
            counter = CreateCounterApplication(command)
            result = await create_counter_application(runtime, counter, COUNTER)
        else:
            result = await submit_application(runtime, command, GUARDIAN)
        ids.append(result.application_id)

    def attach(uow: UnitOfWork) -> None:
        for application_id, (rounds, provided) in zip(ids, SHAPES, strict=True):
            for number, (category, asked) in enumerate(rounds, start=1):
                uow.session.add(
                    Assessment(
                        application_id=application_id,
                        round=number,
                        decision="manual_review",
                        reason_code="undecidable",
                        reason="测试",
                        category=category,
                        category_name=f"类别{category}",
                        materials=asked,
                    )
                )
            for kind in provided:
                uow.session.add(
                    Material(
                        application_id=application_id,
                        kind=kind,
                        filename="f.pdf",
                        content_type="application/pdf",
                        size=1,
                        sha256="0" * 64,
                        storage_key=f"k/{application_id}/{kind}",
                    )
                )
        uow.commit()

    await runtime.write(attach)
    return [str(i) for i in ids]


async def ids_for(runtime: Runtime, **criteria: Any) -> list[str]:
    """The ids the bureau's list shows with ``criteria``."""
    page = await run(runtime, BUREAU, PAGE, filter=criteria)
    assert page["__typename"] == "ApplicationConnection", page
    return [edge["node"]["id"] for edge in page["edges"]]


async def test_filters(runtime: Runtime, season: str) -> None:
    a, c, new, d = await seed(runtime, season)
    assert await ids_for(runtime, category="A") == [a]
    assert await ids_for(runtime, category="B") == []  # only the latest round counts
    assert await ids_for(runtime, category="D") == [d]
    assert await ids_for(runtime, outstandingMaterials=True) == [a, d]
    assert await ids_for(runtime, outstandingMaterials=False) == [c, new]
    assert await ids_for(runtime, outstandingMaterial="property_certificate") == [a]
    assert await ids_for(runtime, outstandingMaterial="hukou_book") == [d]
    assert await ids_for(runtime, channel="COUNTER") == [d]
    assert await ids_for(runtime, channel="ONLINE", outstandingMaterials=True) == [a]
    assert await ids_for(runtime, townshipCode="420704101", statuses=["SUBMITTED"]) == [
        a,
        c,
        new,
        d,
    ]
    assert await ids_for(runtime, schoolCode="LK-YJ-01", category="C") == [c]
    assert await ids_for(runtime, townshipCode="420704102") == []
    bad = await run(runtime, BUREAU, PAGE, filter={"category": "A B"})
    assert (bad["__typename"], bad["field"]) == ("InvalidInputError", "filter.category")


async def test_a_filtered_page_costs_what_an_unfiltered_one_costs(
    runtime: Runtime, season: str
) -> None:
    await seed(runtime, season)
    counts = []
    for criteria in ({}, {"category": "A", "outstandingMaterials": True}):
        with counting(runtime) as counted:
            await run(runtime, BUREAU, PAGE, filter=criteria)
        counts.append(len(counted.statements))
    assert counts[0] == counts[1], counts


async def test_statistics_by_category_channel_and_for_the_province(
    runtime: Runtime, season: str
) -> None:
    await seed(runtime, season)
    stats = await run(runtime, BUREAU, STATS)
    assert stats["total"] == 4
    assert stats["districtCode"] == runtime.settings.district_code
    categories = {c["key"]: c["count"] for c in stats["byCategory"]}
    assert categories == {"A": 1, "C": 1, "D": 1, None: 1}
    assert {c["key"]: c["count"] for c in stats["byChannel"]} == {"online": 3, "counter": 1}
    cells = stats["aggregation"]
    assert sum(cell["count"] for cell in cells) == 4
    assert {cell["districtCode"] for cell in cells} == {runtime.settings.district_code}
    assert {(cell["category"], cell["channel"]) for cell in cells} == {
        ("A", "ONLINE"),
        ("C", "ONLINE"),
        (None, "ONLINE"),
        ("D", "COUNTER"),
    }
    counter = await run(runtime, COUNTER, STATS)
    assert counter["total"] == 4  # all in the counter's own township
