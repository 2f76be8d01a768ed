"""Policy-care claims (政策性照顾): the season's categories, the guardian's declaration and
the bureau's decision."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services import care_claims as core
from ruxue_gateway.context import Context
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    OutOfPhaseError,
)

Info = strawberry.Info[Context, None]


@strawberry.type(description="A policy-care category the season reserves seats for.")
class CareCategory:
    """``kind``: stable code (e.g. military); ``name``: Chinese."""

    kind: str
    name: str


@strawberry.type(description="The season's policy-care categories (政策性照顾).")
class CareCategoryList:
    """In the season file's order."""

    categories: list[CareCategory]


@strawberry.type(description="An application's policy-care claim after a change.")
class CareClaimPayload:
    """``status``: declared | confirmed | rejected."""

    application_id: strawberry.ID
    kind: str
    status: str

    @classmethod
    def from_view(cls, view: core.CareClaimView) -> CareClaimPayload:
        """Map the core's view."""
        return cls(
            application_id=strawberry.ID(str(view.application_id)),
            kind=view.kind,
            status=view.status,
        )


@strawberry.input(description="Declare a policy-care category the season offers.")
class DeclareCareClaimInput:
    """The application and the category's kind."""

    application_id: strawberry.ID
    kind: str


@strawberry.input(description="Confirm or reject a declared policy-care claim.")
class DecideCareClaimInput:
    """``confirm`` false rejects it."""

    application_id: strawberry.ID
    confirm: bool


CareCategoriesResult = Annotated[
    CareCategoryList | InvalidInputError | NotFoundError,
    strawberry.union("CareCategoriesResult"),
]
DeclareCareClaimResult = Annotated[
    CareClaimPayload
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | IneligibleError
    | InvalidTransitionError
    | OutOfPhaseError,
    strawberry.union("DeclareCareClaimResult"),
]
DecideCareClaimResult = Annotated[
    CareClaimPayload | InvalidInputError | ForbiddenError | NotFoundError | InvalidTransitionError,
    strawberry.union("DecideCareClaimResult"),
]


@strawberry.type
class CareQueries:
    """The categories, for anyone."""

    @strawberry.field(description="政策性照顾 categories of a season (anonymous).")
    async def care_categories(self, info: Info, season_code: str) -> CareCategoriesResult:
        """The season's care categories."""
        found = await core.care_categories(info.context.runtime, season_code)
        return CareCategoryList(categories=[CareCategory(kind=c.kind, name=c.name) for c in found])


@strawberry.type
class CareMutations:
    """Declaration and decision."""

    @strawberry.mutation(
        description="申报政策性照顾 while registration is open (guardian, counter)."
    )
    async def declare_care_claim(
        self, info: Info, input: DeclareCareClaimInput
    ) -> DeclareCareClaimResult:
        """Declare (or change an undecided declaration)."""
        view = await core.declare_care(
            info.context.runtime,
            parse_id(input.application_id, "applicationId"),
            input.kind,
            info.context.principal,
        )
        return CareClaimPayload.from_view(view)

    @strawberry.mutation(description="审核政策性照顾: confirm or reject (bureau).")
    async def decide_care_claim(
        self, info: Info, input: DecideCareClaimInput
    ) -> DecideCareClaimResult:
        """Confirmed claims take their kind's reserved seats in the next run."""
        view = await core.decide_care(
            info.context.runtime,
            parse_id(input.application_id, "applicationId"),
            input.confirm,
            info.context.principal,
        )
        return CareClaimPayload.from_view(view)
