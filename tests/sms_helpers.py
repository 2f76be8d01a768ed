"""Helpers for the SMS dispatch tests: scripted vendors and many queued messages at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

from sqlmodel import col, select

from ruxue_core.domain import Message
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.notify import SEND_KIND
from ruxue_core.plugins.contracts import Principal, SmsReceipt, SmsRequest
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.testing.factories import GUARDIAN, submit_command
from ruxue_core.testing.fakes import CapturingNotifier
from ruxue_core.uow import UnitOfWork

Script = Callable[[SmsRequest, int], SmsReceipt | Exception | None]
"""What a scripted vendor does with a request (and its call number): a receipt, an error to
raise, or ``None`` to accept it."""


class ScriptedNotifier(CapturingNotifier):
    """A vendor whose answers follow a script; counts the sends it accepted per message id."""

    def __init__(self, name: str, script: Script | None = None, *, delay: float = 0.0) -> None:
        super().__init__()
        self.name = name
        self.script = script
        self.delay = delay
        self.calls = 0
        self.accepted: Counter[str] = Counter()

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Follow the script; an accepted send is counted under its message id."""
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.script(request, self.calls) if self.script else None
        if isinstance(answer, Exception):
            raise answer
        if answer is not None and answer.status is not MessageStatus.ACCEPTED:
            return answer
        self.sent.append(request)
        self.accepted[request.message_id] += 1
        return SmsReceipt(
            MessageStatus.ACCEPTED,
            vendor_message_id=f"{self.name}-{request.message_id}-{self.accepted[request.message_id]}",
            message_id=request.message_id,
        )


def always_temporary(_request: SmsRequest, _n: int) -> Exception:
    """A vendor that is down."""
    return TemporaryPluginError("服务暂不可用")


def always_permanent(_request: SmsRequest, _n: int) -> SmsReceipt:
    """A vendor that refuses every number."""
    return SmsReceipt(MessageStatus.PERMANENT_FAILURE, vendor_code="isv.MOBILE_NUMBER_ILLEGAL")


def refusing_config(_request: SmsRequest, _n: int) -> Exception:
    """A vendor the plugin cannot use (its own misconfiguration)."""
    return PermanentPluginError("模板未配置")


async def queue_messages(rt: Runtime, season: str, count: int) -> list[int]:
    """Submit one application, then queue ``count`` more messages for it (distinct phones)
    with their send jobs, as :func:`ruxue_core.notify.queue_for_status` does. Returns the
    ids of every message now in the table."""
    submitted = await submit_application(rt, submit_command(season), GUARDIAN)

    def write(uow: UnitOfWork) -> None:
        for i in range(count):
            key = f"{submitted.receipt_no}:bulk{i}:RX_APPROVED"
            uow.insert_at_commit(
                Message(
                    key=key,
                    application_id=submitted.application_id,
                    template="RX_APPROVED",
                    params={"receipt_no": submitted.receipt_no, "child": "张*明"},
                    phone_ct=uow.cipher.encrypt(f"139{i:08d}", purpose="message.phone"),
                    created_at=uow.now,
                )
            )
            uow.enqueue(SEND_KIND, {"message_key": key}, key=f"sms:{key}")
        uow.commit()

    await rt.write(write)
    return [m.id for m in await messages(rt) if m.id is not None]


async def messages(rt: Runtime) -> list[Message]:
    """Every message row, by id."""
    return await rt.read(
        lambda uow: list(uow.session.exec(select(Message).order_by(col(Message.id))).all())
    )


def statuses(rows: Sequence[Message]) -> Counter[MessageStatus]:
    """How many messages are in each status."""
    return Counter(m.status for m in rows)


SYSTEM = Principal.system()
