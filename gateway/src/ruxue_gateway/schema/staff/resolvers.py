"""Staff sign-in and sign-out (password accounts; the identity provider ``staff``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ruxue_core.domain.enums import Role
from ruxue_core.services.staff import sign_in, sign_out
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401
from ruxue_gateway.schema.errors import ForbiddenError, InvalidCredentialsError


@strawberry.input(description="A staff member's username and password.")
class StaffSignInInput:
    """Credentials; failures are counted and lock the account for a while."""

    username: str
    password: str


@strawberry.type(description="A staff session: send `Authorization: Bearer <token>`.")
class StaffSession:
    """The bearer token, its expiry and whose it is."""

    token: str
    expires_at: datetime
    username: str
    name: str
    role: Role
    region_code: str | None
    school_code: str | None


@strawberry.type(description="Every session of this account has ended.")
class StaffSignedOut:
    """Sign in again to continue."""

    ok: bool = True


StaffSignInResult = Annotated[
    StaffSession | InvalidCredentialsError, strawberry.union("StaffSignInResult")
]
StaffSignOutResult = Annotated[
    StaffSignedOut | ForbiddenError, strawberry.union("StaffSignOutResult")
]


@strawberry.type
class StaffMutations:
    """Staff sessions."""

    @strawberry.mutation(description="工作人员登录 (staff sign-in with a password).")
    async def staff_sign_in(
        self, info: strawberry.Info[Context, None], input: StaffSignInInput
    ) -> StaffSignInResult:
        """Open a short-lived session."""
        session = await sign_in(info.context.runtime, input.username, input.password)
        return StaffSession(
            token=session.token,
            expires_at=session.expires_at,
            username=session.username,
            name=session.name,
            role=session.role,
            region_code=session.region_code,
            school_code=session.school_code,
        )

    @strawberry.mutation(description="工作人员退出登录 (ends every session of the account).")
    async def staff_sign_out(self, info: strawberry.Info[Context, None]) -> StaffSignOutResult:
        """Sign out everywhere."""
        await sign_out(info.context.runtime, info.context.principal)
        return StaffSignedOut()
