"""Typed error results. Every expected refusal is one of these (never a raised GraphQL error),
each carrying the core's stable ``code``, the offending input ``field`` and a Chinese message.
"""

from __future__ import annotations

from typing import Final

import strawberry

from ruxue_core import errors


@strawberry.interface(description="A refusal the client is expected to handle.")
class Error:
    """Common fields of every error result."""

    code: str = strawberry.field(description="Stable English code, e.g. `invalid_input`.")
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


@strawberry.type(description="No such record (or not one you may see).")
class NotFoundError(Error):
    """See ``ruxue_core.errors.NotFound``."""


@strawberry.type(description="The child does not meet an enrollment rule.")
class IneligibleError(Error):
    """See ``ruxue_core.errors.Ineligible``."""


@strawberry.type(description="The child already has an application this season.")
class DuplicateError(Error):
    """See ``ruxue_core.errors.Duplicate``."""


@strawberry.type(description="Too many attempts; try again later.")
class RateLimitedError(Error):
    """See ``ruxue_core.errors.RateLimited``."""


ErrorResult = (
    InvalidInputError
    | InvalidTransitionError
    | ConflictError
    | ForbiddenError
    | NotFoundError
    | IneligibleError
    | DuplicateError
    | RateLimitedError
)

_BY_CODE: Final[dict[str, type[ErrorResult]]] = {
    errors.InvalidInput.code: InvalidInputError,
    errors.InvalidTransition.code: InvalidTransitionError,
    errors.Conflict.code: ConflictError,
    errors.Forbidden.code: ForbiddenError,
    errors.NotFound.code: NotFoundError,
    errors.Ineligible.code: IneligibleError,
    errors.Duplicate.code: DuplicateError,
    errors.RateLimited.code: RateLimitedError,
}


def error_result(exc: errors.RuxueError) -> ErrorResult:
    """The typed result for a core refusal; an unmapped one is a bug and is re-raised."""
    result_type = _BY_CODE.get(exc.code)
    if result_type is None:
        raise exc
    return result_type(code=exc.code, message=exc.message, field=exc.field)
