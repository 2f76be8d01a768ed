"""SMS queries and the resend mutation; the core's message use cases decide who may."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.services.messages import application_messages, failed_messages, resend_message
from ruxue_gateway.context import Context
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ForbiddenError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)
from ruxue_gateway.schema.messages.types import (
    ResendMessageInput,
    ResendMessageSuccess,
    SmsMessage,
    SmsMessageList,
)

ApplicationMessagesResult = Annotated[
    SmsMessageList | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("ApplicationMessagesResult"),
]
FailedMessagesResult = Annotated[
    SmsMessageList | InvalidInputError | ForbiddenError,
    strawberry.union("FailedMessagesResult"),
]
ResendMessageResult = Annotated[
    ResendMessageSuccess
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError,
    strawberry.union("ResendMessageResult"),
]


@strawberry.type
class MessageQueries:
    """Staff views of SMS."""

    @strawberry.field(description="一个办件的短信及其状态 (an application's SMS, for staff).")
    async def application_messages(
        self, info: strawberry.Info[Context, None], application_id: strawberry.ID
    ) -> ApplicationMessagesResult:
        """The SMS of one application within the staff member's scope."""
        views = await application_messages(
            info.context.runtime,
            parse_id(application_id, "applicationId"),
            info.context.principal,
        )
        return SmsMessageList(messages=[SmsMessage.from_view(v) for v in views])

    @strawberry.field(description="发送失败的短信及原因 (failed SMS with reasons, newest first).")
    async def failed_messages(
        self,
        info: strawberry.Info[Context, None],
        first: int = 50,
        before: strawberry.ID | None = None,
    ) -> FailedMessagesResult:
        """Failed SMS across the district (bureau level); page with ``before``."""
        before_id = parse_id(before, "before") if before is not None else None
        views = await failed_messages(
            info.context.runtime, info.context.principal, limit=first, before_id=before_id
        )
        return SmsMessageList(messages=[SmsMessage.from_view(v) for v in views])


@strawberry.type
class MessageMutations:
    """Staff actions on SMS."""

    @strawberry.mutation(description="重发失败的短信 (queue a failed SMS again).")
    async def resend_message(
        self, info: strawberry.Info[Context, None], input: ResendMessageInput
    ) -> ResendMessageResult:
        """Queue a failed message again with a fresh attempt budget."""
        view = await resend_message(
            info.context.runtime, parse_id(input.message_id, "messageId"), info.context.principal
        )
        return ResendMessageSuccess(sms=SmsMessage.from_view(view))
