"""Guardians' sign-out (sessions opened by a unified-identity login at ``/auth/…``)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services.sessions import close_guardian_session
from ruxue_gateway.auth import provider_logout_url
from ruxue_gateway.context import Context
from ruxue_gateway.schema.errors import ForbiddenError, NotFoundError


@strawberry.type(description="The guardian's session has ended.")
class GuardianSignedOut:
    """Where to end the identity provider's own sign-on too, if it has such a page."""

    ok: bool = True
    provider_logout_url: str | None = None


GuardianSignOutResult = Annotated[
    GuardianSignedOut | ForbiddenError | NotFoundError, strawberry.union("GuardianSignOutResult")
]


@strawberry.type
class SessionMutations:
    """Guardian sessions."""

    @strawberry.mutation(description="监护人退出登录 (ends this unified-identity session now).")
    async def guardian_sign_out(
        self, info: strawberry.Info[Context, None]
    ) -> GuardianSignOutResult:
        """End the session the request's token belongs to."""
        runtime = info.context.runtime
        provider = await close_guardian_session(runtime, info.context.principal)
        return GuardianSignedOut(provider_logout_url=provider_logout_url(runtime, provider))
