"""The GraphQL schema: one Query and one Mutation merged from per-area modules.

Guards: depth, token and alias limits, parser and validation caches; unexpected errors are
masked outside development (expected refusals are typed results and never masked).
"""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from ruxue_gateway.schema.applications.mutations import ApplicationMutations
from ruxue_gateway.schema.applications.queries import ApplicationQueries
from ruxue_gateway.schema.operations.resolvers import OperationMutations, OperationQueries

MAX_DEPTH = 10
MAX_TOKENS = 2_000
MAX_ALIASES = 15


@strawberry.type(description="Read access to Ruxue.")
class Query(ApplicationQueries, OperationQueries):
    """All queries."""


@strawberry.type(description="Write access to Ruxue; each mutation takes one `input`.")
class Mutation(ApplicationMutations, OperationMutations):
    """All mutations."""


def build_schema(*, mask_errors: bool = True) -> strawberry.Schema:
    """The schema with its guards; ``mask_errors`` hides unexpected errors' details."""
    # The depth and alias limiters are validation rules, and each limiter instance makes new
    # rule classes. ValidationCache keys on those classes, so limiters built per request make
    # it miss every time (strawberry#4635): build the rules once per schema and add them.
    limits = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if mask_errors:
        extensions.append(lambda: MaskErrors(error_message="服务器内部错误 (internal error)"))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=mask_errors),
    )


schema = build_schema(mask_errors=False)
"""The development schema, used to export ``schema.graphql`` (``strawberry export-schema``)."""
