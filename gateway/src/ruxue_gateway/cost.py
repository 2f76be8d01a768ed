"""The query cost limit: what an operation may ask for, counted before it runs.

Every selected field costs 1 for each time it can appear in the answer: a field inside a list
counts once per element the list may hold. A list's size is its ``first`` argument when it
has one (a literal, the variable's default, or else the largest page; capped at the largest
page), otherwise the size declared for it in :data:`LIST_SIZES`, otherwise
:data:`DEFAULT_LIST_SIZE`. Aliases and fragments count every time they are used. Introspection
fields are free (introspection is off in production). An operation over the limit is refused
at validation with the error code ``QUERY_COST_EXCEEDED`` and its cost and limit in
``extensions``, beside the depth, token and alias limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
)

from ruxue_core.services.worklist import MAX_PAGE

MAX_COST: Final = 50_000
"""Room for a page of 100 applications with their evidence, reviews and materials."""
DEFAULT_LIST_SIZE: Final = 20
LIST_SIZES: Final[Mapping[str, int]] = {
    "Application.evidence": 20,
    "Application.reviews": 10,
    "Application.materials": 20,
    "Query.seasons": 20,
    "Query.schools": 200,
    "AuditTrail.steps": 100,
}
"""Expected sizes of lists without a ``first`` argument, by ``Type.field``."""
ERROR_CODE: Final = "QUERY_COST_EXCEEDED"


def cost_rule(limit: int = MAX_COST) -> type[ValidationRule]:
    """A validation rule class refusing operations that cost more than ``limit``.

    Build it once per schema: the validation cache keys on rule classes.
    """

    class QueryCostLimit(ValidationRule):
        """Refuses an operation whose cost is over the limit."""

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            """Cost the operation; report it when over the limit."""
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            defaults = {
                definition.variable.name.value: definition.default_value
                for definition in node.variable_definitions or ()
            }
            cost = _Coster(self, defaults).selections(node.selection_set, root, 1, frozenset())
            if cost > limit:
                self.report_error(
                    GraphQLError(
                        f"查询过于复杂：代价 {cost} 超过上限 {limit} (query cost {cost} > {limit})",
                        node,
                        extensions={"code": ERROR_CODE, "cost": cost, "limit": limit},
                    )
                )

    return QueryCostLimit


class _Coster:
    def __init__(self, rule: ValidationRule, defaults: Mapping[str, Any]) -> None:
        self.context = rule.context
        self.defaults = defaults

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        multiplier: int,
        fragments: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, multiplier, fragments)
            elif isinstance(selection, InlineFragmentNode):
                target = (
                    self._type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self.selections(
                    selection.selection_set, target or parent, multiplier, fragments
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in fragments:
                    continue
                target = self._type(fragment.type_condition.name.value) or parent
                total += self.selections(
                    fragment.selection_set, target, multiplier, fragments | {name}
                )
        return total

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, multiplier: int, fragments: frozenset[str]
    ) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        definition = getattr(parent, "fields", {}).get(name)
        if definition is None:
            return multiplier  # an unknown field: other rules report it
        size = 1
        if "first" in definition.args:
            size = self._first(node, definition.args["first"].default_value)
        elif parent.name.endswith("Connection"):
            size = 1  # a connection's edges: already counted by its field's `first`
        elif isinstance(get_nullable_type(definition.type), GraphQLList):
            size = LIST_SIZES.get(f"{parent.name}.{name}", DEFAULT_LIST_SIZE)
        inner = multiplier * size
        named = get_named_type(definition.type)
        return multiplier + self.selections(node.selection_set, named, inner, fragments)

    def _first(self, node: FieldNode, default: Any) -> int:
        """The page size asked for: a literal, a variable's default, the argument's default;
        the largest page when only the request's variables will tell."""
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is None:
            value = default if isinstance(default, int) else MAX_PAGE
            return max(0, min(value, MAX_PAGE))
        literal: Any = argument.value
        if isinstance(literal, VariableNode):
            literal = self.defaults.get(literal.name.value)
        if isinstance(literal, IntValueNode):
            return max(0, min(int(literal.value), MAX_PAGE))
        return MAX_PAGE

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.context.schema.get_type(name)
