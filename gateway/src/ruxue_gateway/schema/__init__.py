"""The GraphQL schema: one Query and one Mutation merged from per-area modules.

Guards: depth, token, alias and cost limits (see ``ruxue_gateway.cost``); parser and
validation caches (only small documents are cached); introspection off in production.
Expected refusals are typed results (see ``errors``). Only unexpected exceptions are masked,
and only in production; GraphQL validation errors always say what is wrong. Nothing about a
request's variables is logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import strawberry
from graphql import DocumentNode, GraphQLError, parse
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ruxue_core.logs import redact
from ruxue_gateway.cost import cost_rule
from ruxue_gateway.schema.applications.lists import ApplicationListQueries
from ruxue_gateway.schema.applications.mutations import ApplicationMutations
from ruxue_gateway.schema.applications.queries import ApplicationQueries
from ruxue_gateway.schema.audit import AuditQueries
from ruxue_gateway.schema.catalog import CatalogQueries
from ruxue_gateway.schema.errors import exception_handlers
from ruxue_gateway.schema.guide import GuideQueries
from ruxue_gateway.schema.intake import IntakeMutations, IntakeQueries
from ruxue_gateway.schema.messages.resolvers import MessageMutations, MessageQueries
from ruxue_gateway.schema.operations.resolvers import OperationMutations, OperationQueries
from ruxue_gateway.schema.placement.care import CareMutations, CareQueries
from ruxue_gateway.schema.placement.private import PrivateChoiceMutations, PrivateChoiceQueries
from ruxue_gateway.schema.placement.resolvers import PlacementMutations, PlacementQueries
from ruxue_gateway.schema.profile import ProfileQueries
from ruxue_gateway.schema.sessions.resolvers import SessionMutations
from ruxue_gateway.schema.staff.resolvers import StaffMutations
from ruxue_gateway.schema.statistics import StatisticsQueries
from ruxue_gateway.schema.subscriptions import Subscription

MAX_DEPTH: Final = 10
MAX_TOKENS: Final = 2_000
MAX_ALIASES: Final = 15
PARSE_CACHE_SIZE: Final = 512
DEFAULT_CACHED_CHARS: Final = 4_000
INTERNAL_ERROR: Final = "服务器内部错误 (internal error)"

log = logging.getLogger(__name__)


@strawberry.type(description="Read access to Ruxue.")
class Query(
    ApplicationQueries,
    ApplicationListQueries,
    CatalogQueries,
    ProfileQueries,
    StatisticsQueries,
    AuditQueries,
    OperationQueries,
    MessageQueries,
    IntakeQueries,
    GuideQueries,
    PlacementQueries,
    PrivateChoiceQueries,
    CareQueries,
):
    """All queries."""


@strawberry.type(description="Write access to Ruxue; each mutation takes one `input`.")
class Mutation(
    ApplicationMutations,
    IntakeMutations,
    OperationMutations,
    StaffMutations,
    SessionMutations,
    MessageMutations,
    PlacementMutations,
    PrivateChoiceMutations,
    CareMutations,
):
    """All mutations."""


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse_cached(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class SmallDocumentParserCache(SchemaExtension):
    """Strawberry's parser cache, but only for documents up to ``max_chars`` characters:
    a large one is parsed every time instead of pinning memory in the cache."""

    def __init__(self, max_chars: int) -> None:
        super().__init__()
        self.max_chars = max_chars

    def on_parse(self) -> Iterator[None]:
        """Parse through the cache when the document is small. ``MaxTokensLimiter`` sets
        the ``max_tokens`` parse option on every request, so the cache keys on it too (a
        document over the limit raises, and a failed parse is not cached)."""
        context = self.execution_context
        query = context.query or ""
        options = context.parse_options
        if len(query) <= self.max_chars and options.keys() <= {"max_tokens"}:
            context.graphql_document = _parse_cached(query, options.get("max_tokens"))
        yield


def _is_unexpected(error: GraphQLError) -> bool:
    """An exception raised while resolving, as opposed to a validation or syntax error."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class RuxueSchema(strawberry.Schema):
    """The schema, logging unexpected errors only, and never a request's variables."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors with their traceback; a client's own mistakes are not logged."""
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            if _is_unexpected(error):
                log.error(
                    "unexpected error in %s at %s: %s",
                    operation or "anonymous operation",
                    ".".join(str(p) for p in error.path or ()),
                    redact(str(error.original_error)),
                    exc_info=error.original_error,
                )


def build_schema(
    *,
    production: bool = False,
    cached_document_chars: int = DEFAULT_CACHED_CHARS,
    observers: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> RuxueSchema:
    """The schema with its guards.

    :param production: mask unexpected errors, refuse introspection, hide field suggestions.
    :param cached_document_chars: documents up to this size enter the parser cache.
    :param observers: extensions that see each operation first, outermost (metrics, the
        persisted-query allow-list, which acts before parsing).
    """
    # The depth and alias limiters are validation rules, and each limiter instance makes new
    # rule classes. ValidationCache keys on those classes, so limiters built per request make
    # it miss every time (strawberry#4635): build the rules once per schema and add them.
    rules: list[Any] = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
        cost_rule(),
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        *observers,
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: SmallDocumentParserCache(cached_document_chars),
        lambda: ValidationCache(maxsize=256),
    ]
    if production:
        extensions.append(
            lambda: MaskErrors(should_mask_error=_is_unexpected, error_message=INTERNAL_ERROR)
        )
    return RuxueSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        exception_handlers=exception_handlers(),
        config=StrawberryConfig(disable_field_suggestions=production),
    )


schema = build_schema()
"""The development schema, used to export ``schema.graphql`` (``strawberry export-schema``)."""
