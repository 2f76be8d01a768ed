"""docs/api.md stays true: every GraphQL example in it is valid against the schema (only
operations that exist, within the limits) and every JSON example parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import parse, specified_rules, validate

from ruxue_gateway.cost import cost_rule
from ruxue_gateway.schema import build_schema

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCKS = re.compile(r"```(graphql|json)\n(.*?)```", re.DOTALL)
EXAMPLES = BLOCKS.findall(API.read_text(encoding="utf-8"))
GRAPHQL_SCHEMA = build_schema()._schema


def test_the_page_has_examples() -> None:
    assert sum(kind == "graphql" for kind, _ in EXAMPLES) >= 10


@pytest.mark.parametrize(
    "document", [text for kind, text in EXAMPLES if kind == "graphql"], ids=lambda t: t[:30]
)
def test_graphql_examples_validate(document: str) -> None:
    errors = validate(GRAPHQL_SCHEMA, parse(document), [*specified_rules, cost_rule()])
    assert errors == [], errors


@pytest.mark.parametrize("text", [text for kind, text in EXAMPLES if kind == "json"])
def test_json_examples_parse(text: str) -> None:
    assert isinstance(json.loads(text), dict)
