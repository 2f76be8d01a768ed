"""Private-school choice (公民同招): the season's options, and a guardian's choice."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services import private_choice as core
from ruxue_gateway.context import Context
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ConflictError,
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    OutOfPhaseError,
)

Info = strawberry.Info[Context, None]


@strawberry.type(description="A private school drawing by lottery with public placement.")
class PrivateSchoolOption:
    """``seats``: the seats drawn by lottery (the plan unless the season reserves fewer)."""

    code: str
    name: str
    seats: int

    @classmethod
    def from_view(cls, view: core.PrivateOption) -> PrivateSchoolOption:
        """Map the core's view."""
        return cls(code=view.code, name=view.name, seats=view.seats)


@strawberry.type(description="The season's private options (公民同招).")
class PrivateSchoolOptionList:
    """In the season file's order."""

    options: list[PrivateSchoolOption]


@strawberry.type(description="An application's private-school choice after the change.")
class PrivateSchoolChosen:
    """``schoolCode`` null: no private school, public placement only."""

    application_id: strawberry.ID
    school_code: str | None
    version: int


@strawberry.input(description="Choose one of the season's private schools, or none.")
class ChoosePrivateSchoolInput:
    """``schoolCode`` null clears the choice."""

    application_id: strawberry.ID
    school_code: str | None = None
    expected_version: int | None = None


PrivateSchoolOptionsResult = Annotated[
    PrivateSchoolOptionList | InvalidInputError | NotFoundError,
    strawberry.union("PrivateSchoolOptionsResult"),
]
ChoosePrivateSchoolResult = Annotated[
    PrivateSchoolChosen
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | IneligibleError
    | InvalidTransitionError
    | ConflictError
    | OutOfPhaseError,
    strawberry.union("ChoosePrivateSchoolResult"),
]


@strawberry.type
class PrivateChoiceQueries:
    """The options, for anyone."""

    @strawberry.field(description="公民同招: the private schools of a season (anonymous).")
    async def private_school_options(
        self, info: Info, season_code: str
    ) -> PrivateSchoolOptionsResult:
        """The season's private options."""
        options = await core.private_options(info.context.runtime, season_code)
        return PrivateSchoolOptionList(options=[PrivateSchoolOption.from_view(o) for o in options])


@strawberry.type
class PrivateChoiceMutations:
    """The guardian's choice."""

    @strawberry.mutation(
        description="选择民办学校 while registration is open (guardian, or counter staff)."
    )
    async def choose_private_school(
        self, info: Info, input: ChoosePrivateSchoolInput
    ) -> ChoosePrivateSchoolResult:
        """Choose (or clear) the private school placement tries first."""
        command = core.ChoosePrivateSchool(
            parse_id(input.application_id, "applicationId"),
            input.school_code or None,
            input.expected_version,
        )
        view = await core.choose_private_school(
            info.context.runtime, command, info.context.principal
        )
        return PrivateSchoolChosen(
            application_id=strawberry.ID(str(view.application_id)),
            school_code=view.school_code,
            version=view.version,
        )
