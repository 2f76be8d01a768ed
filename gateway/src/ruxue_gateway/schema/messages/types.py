"""GraphQL types for SMS messages (phone numbers masked; the text is never stored)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ruxue_core.domain.enums import MessageStatus
from ruxue_core.services.messages import MessageView
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401


@strawberry.type(name="SmsMessage", description="一条短信通知 (one SMS to a guardian).")
class SmsMessage:
    """Status, vendor, attempts and, when it failed, why."""

    id: strawberry.ID
    application_id: strawberry.ID | None
    receipt_no: str | None
    template: str = strawberry.field(description="Stable template code, e.g. RX_ADMITTED.")
    status: MessageStatus
    status_label: str
    vendor: str | None = strawberry.field(description="The SMS vendor it went through.")
    attempts: int = strawberry.field(description="Vendor calls made for it.")
    repeats: int = strawberry.field(
        description="Sends again after a crash left the outcome unknown (same correlation id)."
    )
    resends: int = strawberry.field(description="Times staff queued it again.")
    reason: str | None = strawberry.field(description="失败原因 (the last failure's reason).")
    phone: str = strawberry.field(description="Masked phone number.")
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def from_view(cls, view: MessageView) -> SmsMessage:
        """Map the core's view."""
        return cls(
            id=strawberry.ID(str(view.id)),
            application_id=strawberry.ID(str(view.application_id))
            if view.application_id is not None
            else None,
            receipt_no=view.receipt_no,
            template=view.template,
            status=view.status,
            status_label=view.status_label,
            vendor=view.vendor,
            attempts=view.attempts,
            repeats=view.repeats,
            resends=view.resends,
            reason=view.reason,
            phone=view.phone,
            created_at=view.created_at,
            sent_at=view.sent_at,
            delivered_at=view.delivered_at,
        )


@strawberry.type(description="A bounded list of SMS messages.")
class SmsMessageList:
    """At most 200 messages."""

    messages: list[SmsMessage]


@strawberry.type(description="The failed SMS was queued again.")
class ResendMessageSuccess:
    """The message, now queued (named `sms`: `message` is every error's text)."""

    sms: SmsMessage


@strawberry.input(description="Queue a failed SMS again (bureau officers, administrators).")
class ResendMessageInput:
    """The message to resend."""

    message_id: strawberry.ID
