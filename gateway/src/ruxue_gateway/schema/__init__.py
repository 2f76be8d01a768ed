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
from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document
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
VALIDATION_CACHE_SIZE: Final = 256
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


@functools.lru_cache(maxsize=VALIDATION_CACHE_SIZE)
def _validate_cached(
    schema: GraphQLSchema, query: str, max_tokens: int | None, rules: tuple[Any, ...]
) -> list[GraphQLError]:
    """The validation errors of a cached document, keyed by its text: hashing a string is
    cached by Python, while a parsed document hashes its whole tree on every lookup. The
    schema and the rules (built once per schema) hash by identity."""
    return validate_document(schema, _parse_cached(query, max_tokens), rules)


class Guards(SchemaExtension):
    """The guards and caches of every operation in one extension (strawberry wraps each hook
    of each extension on every request, so four small extensions cost four times as much):
    the validation rules (depth, aliases, cost; introspection in production), the token
    limit, and the parser and validation caches. Only documents up to ``max_chars``
    characters enter the caches (a large one is parsed and validated every time instead of
    pinning memory); ``max_chars=None`` turns both caches off."""

    def __init__(self, rules: tuple[Any, ...], max_chars: int | None) -> None:
        super().__init__()
        self.rules = rules
        self.max_chars = max_chars

    def on_operation(self) -> Iterator[None]:
        """Add the validation rules and the token limit (a parse option)."""
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules
        context.parse_options["max_tokens"] = MAX_TOKENS
        yield

    def on_parse(self) -> Iterator[None]:
        """Parse through the cache when the document is small; the cache keys on the token
        limit too (a document over the limit raises, and a failed parse is not cached)."""
        context = self.execution_context
        if (query := self._cached(context)) is not None:
            options = context.parse_options
            context.graphql_document = _parse_cached(query, options.get("max_tokens"))
        yield

    def on_validate(self) -> Iterator[None]:
        """Validate a cached document through the cache (strawberry skips its own validation
        when errors are already set)."""
        context = self.execution_context
        if (query := self._cached(context)) is not None:
            context.pre_execution_errors = _validate_cached(
                context.schema._schema,
                query,
                context.parse_options.get("max_tokens"),
                context.validation_rules,
            )
        yield

    def _cached(self, context: ExecutionContext) -> str | None:
        """The operation's document if it goes through the caches."""
        query = context.query
        if (
            self.max_chars is None
            or query is None
            or len(query) > self.max_chars
            or not context.parse_options.keys() <= {"max_tokens"}
        ):
            return None
        return query


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
    cached_document_chars: int | None = DEFAULT_CACHED_CHARS,
    observers: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> RuxueSchema:
    """The schema with its guards.

    :param production: mask unexpected errors, refuse introspection, hide field suggestions.
    :param cached_document_chars: documents up to this size enter the parser cache; ``None``
        turns the parser and validation caches off (benchmarks compare).
    :param observers: extensions that see each operation first, outermost (metrics, the
        persisted-query allow-list, which acts before parsing).
    """
    # The depth and alias limiters are validation rules, and each limiter instance makes new
    # rule classes. The validation cache keys on those classes, so limiters built per request
    # make it miss every time (strawberry#4635): build the rules once per schema.
    rules: list[Any] = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
        cost_rule(),
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        *observers,
        lambda: Guards(tuple(rules), cached_document_chars),
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
