"""SMS use cases: staff views of messages, resending a failed one, vendors' receipts.

Staff see an application's messages (within their scope, as they see the application), and
the district's failed messages with their reasons; bureau officers and administrators may
queue a failed message again. Phone numbers leave masked; the text is never stored, so it is
never shown (only the template code and the masked parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core import receipts
from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Application, Message
from ruxue_core.domain.enums import MESSAGE_STATUS_LABELS, MessageStatus, Role
from ruxue_core.errors import InvalidInput, InvalidTransition, NotFound, PermanentPluginError
from ruxue_core.lifecycle import load_case
from ruxue_core.notify import SEND_KIND
from ruxue_core.permissions import DISTRICT_ROLES, STAFF_ROLES, require_role, visible
from ruxue_core.plugins.contracts import Principal, SmsReceipt
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_phone
from ruxue_core.uow import UnitOfWork

RESEND_ROLES: Final = (Role.BUREAU_OFFICER, Role.ADMIN)
MAX_LIST: Final = 200


@dataclass(frozen=True, slots=True)
class MessageView:
    """One SMS as staff see it: status, vendor, attempts and the reason it failed."""

    id: int
    application_id: int | None
    receipt_no: str | None
    template: str
    status: MessageStatus
    status_label: str
    vendor: str | None
    attempts: int
    repeats: int
    resends: int
    reason: str | None
    phone: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


def _view(uow: UnitOfWork, message: Message, receipt_no: str | None) -> MessageView:
    assert message.id is not None
    phone = uow.cipher.decrypt(message.phone_ct, purpose="message.phone")
    return MessageView(
        id=message.id,
        application_id=message.application_id,
        receipt_no=receipt_no,
        template=message.template,
        status=message.status,
        status_label=MESSAGE_STATUS_LABELS[message.status],
        vendor=message.vendor,
        attempts=message.attempts,
        repeats=message.repeats,
        resends=message.resends,
        reason=message.error if message.status is not MessageStatus.DELIVERED else None,
        phone=mask_phone(phone),
        created_at=message.created_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
    )


async def application_messages(
    rt: Runtime, application_id: int, principal: Principal | None
) -> list[MessageView]:
    """The SMS of one application the staff member may see, oldest first.

    :raises Forbidden: not signed in as staff.
    :raises NotFound: no such application, or not one the principal may see (alike).
    """
    actor = require_role(principal, *STAFF_ROLES)

    def read(uow: UnitOfWork) -> list[MessageView]:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        rows = uow.session.exec(
            select(Message).where(col(Message.application_id) == case.id).order_by(col(Message.id))
        ).all()
        return [_view(uow, row, case.application.receipt_no) for row in rows]

    return await rt.read(read)


async def failed_messages(
    rt: Runtime, principal: Principal | None, *, limit: int = 50, before_id: int | None = None
) -> list[MessageView]:
    """The district's failed SMS with their reasons, newest first (bureau level).

    :raises Forbidden: not a district-level role.
    :raises InvalidInput: a limit outside 1…200.
    """
    require_role(principal, *(DISTRICT_ROLES - {Role.SYSTEM}))
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"数量应在 1 到 {MAX_LIST} 之间", field="first")

    def read(uow: UnitOfWork) -> list[MessageView]:
        query = (
            select(Message, Application.receipt_no)
            .join(Application, col(Application.id) == Message.application_id, isouter=True)
            .where(col(Message.status) == MessageStatus.FAILED)
        )
        if before_id is not None:
            query = query.where(col(Message.id) < before_id)
        rows = uow.session.exec(query.order_by(col(Message.id).desc()).limit(limit)).all()
        return [_view(uow, message, receipt_no) for message, receipt_no in rows]

    return await rt.read(read)


async def resend_message(rt: Runtime, message_id: int, principal: Principal | None) -> MessageView:
    """Queue a failed SMS again with a fresh attempt budget (audited).

    :raises Forbidden: not a bureau officer or administrator.
    :raises NotFound: no such message, or not one the principal may see.
    :raises InvalidTransition: the message has not failed.
    """
    actor = require_role(principal, *RESEND_ROLES)

    def write(uow: UnitOfWork) -> MessageView:
        message = uow.session.get(Message, message_id)
        if message is None or message.application_id is None:
            raise NotFound("短信不存在", field="messageId")
        case = visible(actor, load_case(uow, message.application_id), uow.cipher, field="messageId")
        if message.status is not MessageStatus.FAILED:
            raise InvalidTransition("只有发送失败的短信可以重发", field="messageId")
        resends = message.resends + 1
        uow.session.execute(
            sa.update(Message)
            .where(col(Message.id) == message_id, col(Message.status) == MessageStatus.FAILED)
            .values(status=MessageStatus.QUEUED, attempts=0, resends=resends)
        )
        uow.enqueue(SEND_KIND, {"message_key": message.key}, key=f"sms:{message.key}:r{resends}")
        uow.audit(
            AuditEntry(
                actor=actor.id,
                role=actor.role.value,
                action="sms.resend",
                entity="message",
                entity_id=str(message_id),
                data={"template": message.template, "reason": message.error or ""},
            )
        )
        uow.commit()
        message.status, message.attempts, message.resends = MessageStatus.QUEUED, 0, resends
        return _view(uow, message, case.application.receipt_no)

    return await rt.write(write)


async def record_receipts(rt: Runtime, vendor: str, body: bytes) -> receipts.ReceiptTally:
    """Take one delivery-receipt callback from ``vendor``; idempotent (vendors repeat).

    :raises NotFound: no such vendor is configured.
    :raises InvalidInput: the body is not the vendor's receipt format.
    """
    notifier = rt.host.notifier(vendor)
    if notifier is None:
        raise NotFound("短信服务商未配置", field="vendor")
    try:
        parsed: Sequence[SmsReceipt] = notifier.parse_receipts(body)
    except PermanentPluginError as exc:
        raise InvalidInput(str(exc), field="body") from None
    return await rt.write(lambda uow: receipts.record(uow, vendor, parsed))
