"""The query cost limit: list sizes × nesting, aliases and fragments counted, refused at
validation with a typed error; a full staff page stays well within it."""

from __future__ import annotations

from typing import Any, Final

from graphql import GraphQLSchema, get_introspection_query, parse, validate

from ruxue_core.runtime import Runtime
from ruxue_core.testing.factories import BUREAU
from ruxue_gateway.context import Context
from ruxue_gateway.cost import ERROR_CODE, MAX_COST, cost_rule
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
GRAPHQL_SCHEMA: GraphQLSchema = SCHEMA._schema
NODE: Final = """
  id receiptNo status statusLabel version channel townshipCode childName childIdNumber
  guardianName guardianPhone address schoolCode schoolName createdAt updatedAt
  evidence { source subject outcome outcomeLabel reason checkedAt }
  reviews { step stepLabel decision comment reviewer at }
  materials { kind filename contentType size sha256 uploadedAt }
"""
FULL_PAGE: Final = (
    "query($after: String) { applications(first: 100, after: $after) {"
    " ... on ApplicationConnection { edges { cursor node {" + NODE + "} }"
    " pageInfo { hasNextPage endCursor } } } }"
)


def cost_of(query: str) -> int:
    """The cost the rule computes (with a limit of 0, every operation reports its cost)."""
    errors = validate(GRAPHQL_SCHEMA, parse(query), [cost_rule(0)])
    (error,) = errors
    assert error.extensions is not None
    cost: int = error.extensions["cost"]
    return cost


async def execute(runtime: Runtime, query: str, **variables: Any) -> Any:
    return await SCHEMA.execute(
        query, variable_values=variables, context_value=Context(runtime, BUREAU)
    )


def test_costs_multiply_by_list_sizes() -> None:
    assert cost_of("{ seasons { code name } }") == 1 + 20 * 2
    assert cost_of("{ schools(stage: PRIMARY) { code } }") == 1 + 200
    assert cost_of("{ viewer { id role } }") == 3
    assert cost_of("{ a: viewer { id } b: viewer { id } }") == 4
    # a page: `first` multiplies everything under the connection
    page = "{ applications(first: 5) { ... on ApplicationConnection { edges { node { id } } } } }"
    assert cost_of(page) == 1 + 5 * 3
    # a variable without a default counts as the largest page; with one, as its default
    by_variable = (
        "query($n: Int!) { applications(first: $n) {"
        " ... on ApplicationConnection { edges { node { id } } } } }"
    )
    assert cost_of(by_variable) == 1 + 100 * 3
    assert cost_of(by_variable.replace("$n: Int!", "$n: Int = 7")) == 1 + 7 * 3
    # left out: the argument's default page
    default = "{ applications { ... on ApplicationConnection { edges { node { id } } } } }"
    assert cost_of(default) == 1 + 20 * 3


def test_fragments_count_where_they_are_used() -> None:
    inline = "{ seasons { code } seasons2: seasons { code } }"
    spread = "fragment F on Season { code } { seasons { ...F } seasons2: seasons { ...F } }"
    assert cost_of(spread) == cost_of(inline) == 2 * (1 + 20)


def test_a_full_staff_page_is_within_the_limit() -> None:
    cost = cost_of(FULL_PAGE)
    assert 10_000 < cost <= MAX_COST
    assert validate(GRAPHQL_SCHEMA, parse(FULL_PAGE), [cost_rule()]) == []


def test_introspection_is_not_counted() -> None:
    assert validate(GRAPHQL_SCHEMA, parse(get_introspection_query()), [cost_rule()]) == []


async def test_an_expensive_operation_is_refused_before_it_runs(runtime: Runtime) -> None:
    aliases = " ".join(
        f"p{n}: applications(first: 100) {{ ... on ApplicationConnection {{"
        f" edges {{ node {{ {NODE} }} }} }} }}"
        for n in range(3)
    )
    result = await execute(runtime, "{ " + aliases + " }")
    assert result.data is None
    (error,) = result.errors
    assert error.extensions["code"] == ERROR_CODE
    assert error.extensions["cost"] > error.extensions["limit"] == MAX_COST
    fine = await execute(runtime, FULL_PAGE)
    assert fine.errors is None
