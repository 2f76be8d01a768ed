"""``me``: the signed-in user's role, scope and (for a guardian) their record, masked."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.domain.enums import Role
from ruxue_core.services.profile import Profile, my_profile
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401
from ruxue_gateway.schema.errors import ForbiddenError


@strawberry.type(description="监护人信息 as the guardian record holds it; masked.")
class GuardianProfile:
    """Name, ID number (masked) and the mobile number SMS go to (masked)."""

    name: str
    id_number: str
    phone: str


@strawberry.type(description="The signed-in user: role, scope and their names.")
class Me:
    """Counter staff have a township, school reviewers a school; guardians who have applied
    have their guardian record."""

    id: str
    role: Role
    role_label: str
    name: str
    township_code: str | None
    township_name: str | None
    school_code: str | None
    school_name: str | None
    guardian: GuardianProfile | None

    @classmethod
    def from_profile(cls, profile: Profile) -> Me:
        """Map the core's profile."""
        guardian = profile.guardian
        return cls(
            id=profile.id,
            role=profile.role,
            role_label=profile.role_label,
            name=profile.name,
            township_code=profile.township_code,
            township_name=profile.township_name,
            school_code=profile.school_code,
            school_name=profile.school_name,
            guardian=GuardianProfile(
                name=guardian.name, id_number=guardian.id_number, phone=guardian.phone
            )
            if guardian is not None
            else None,
        )


MeResult = Annotated[Me | ForbiddenError, strawberry.union("MeResult")]


@strawberry.type
class ProfileQueries:
    """The signed-in user."""

    @strawberry.field(description="我的信息 (the signed-in user; ForbiddenError if anonymous).")
    async def me(self, info: strawberry.Info[Context, None]) -> MeResult:
        """Who am I, with my scope."""
        context = info.context
        return Me.from_profile(await my_profile(context.runtime, context.principal))
