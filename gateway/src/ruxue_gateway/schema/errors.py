"""Typed error results, and the one mechanism that turns core refusals into them.

Every expected refusal is a member of its operation's result union (never a raised GraphQL
error), carrying the core's stable ``code``, the offending input ``field`` and a Chinese
message. Each operation's union lists only the errors its use case can raise; Strawberry's
exception handlers (one per core error class, built from one table here) convert a raised core
error into its type *only* where the field's union contains that type. A refusal an operation
did not declare therefore surfaces as a server error, which the fuzz tests catch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import strawberry
from strawberry.types.field import StrawberryField

from ruxue_core import errors

strawberry.enum(errors.ErrorCode, description="Stable English error codes (错误代码).")


@strawberry.interface(description="A refusal the client is expected to handle.")
class Error:
    """Common fields of every error result."""

    code: errors.ErrorCode = strawberry.field(description="Stable English code.")
    message: str = strawberry.field(description="User-facing message in Chinese.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="The input is malformed.")
class InvalidInputError(Error):
    """See ``ruxue_core.errors.InvalidInput``."""


@strawberry.type(description="The application's status does not allow this action.")
class InvalidTransitionError(Error):
    """See ``ruxue_core.errors.InvalidTransition``."""


@strawberry.type(description="Someone else changed the record first; reload and retry.")
class ConflictError(Error):
    """See ``ruxue_core.errors.Conflict``."""


@strawberry.type(description="Not signed in, or not allowed.")
class ForbiddenError(Error):
    """See ``ruxue_core.errors.Forbidden``."""


@strawberry.type(description="No such record, or not one you may see (the two answer alike).")
class NotFoundError(Error):
    """See ``ruxue_core.errors.NotFound``."""


@strawberry.type(description="The child does not meet an enrollment rule.")
class IneligibleError(Error):
    """See ``ruxue_core.errors.Ineligible``."""


@strawberry.type(description="The record already exists.")
class DuplicateError(Error):
    """See ``ruxue_core.errors.Duplicate``."""


@strawberry.type(description="Too many attempts; try again later.")
class RateLimitedError(Error):
    """See ``ruxue_core.errors.RateLimited``."""


@strawberry.type(description="The sign-in failed (unknown account, wrong password, locked).")
class InvalidCredentialsError(Error):
    """See ``ruxue_core.errors.InvalidCredentials``."""


@strawberry.type(description="Not now: the season's calendar keeps this to another phase.")
class OutOfPhaseError(Error):
    """See ``ruxue_core.errors.OutOfPhase``: which phase and its window (an end is null when
    the season does not schedule it)."""

    phase: str = strawberry.field(
        description="registration | review | placement | publication | enrollment"
    )
    opens_at: datetime | None
    closes_at: datetime | None


ERROR_TYPES: Final[dict[type[errors.RuxueError], type[Error]]] = {
    errors.InvalidInput: InvalidInputError,
    errors.InvalidTransition: InvalidTransitionError,
    errors.Conflict: ConflictError,
    errors.Forbidden: ForbiddenError,
    errors.NotFound: NotFoundError,
    errors.Ineligible: IneligibleError,
    errors.Duplicate: DuplicateError,
    errors.RateLimited: RateLimitedError,
    errors.InvalidCredentials: InvalidCredentialsError,
    errors.OutOfPhase: OutOfPhaseError,
}
"""Each core refusal and its GraphQL type. ``ConfigurationError`` has none: it is a fault."""


class _Handler:
    """Converts one core error class into its GraphQL error type."""

    def __init__(self, exception_type: type[errors.RuxueError], error_type: type[Error]) -> None:
        self.exception_type = exception_type
        self.error_type = error_type

    def handle(self, exception: errors.RuxueError, *, field: StrawberryField, info: Any) -> Error:
        """The typed result for ``exception``."""
        if isinstance(exception, errors.OutOfPhase):
            return OutOfPhaseError(
                code=exception.code,
                message=exception.message,
                field=exception.field,
                phase=exception.phase,
                opens_at=exception.opens_at,
                closes_at=exception.closes_at,
            )
        return self.error_type(
            code=exception.code, message=exception.message, field=exception.field
        )


def exception_handlers() -> list[strawberry.ExceptionHandler[Any]]:
    """One handler per core error class, for ``strawberry.Schema(exception_handlers=…)``."""
    return [_Handler(exception, error) for exception, error in ERROR_TYPES.items()]
