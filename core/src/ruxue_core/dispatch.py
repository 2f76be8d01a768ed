"""SMS dispatch: the ``notify.send`` job hands one queued message to one vendor at a time.

Each try is three steps:

1. In the job's lease-guarded transaction the message is *claimed*: only a ``queued``
   message (or one left ``sending`` by a worker that died, see below) becomes ``sending``;
   a vendor is chosen by weight among those not yet tried in this round
   (:mod:`ruxue_core.sms_vendors`) and its next rate-limit slot is reserved.
2. Outside any transaction the worker waits for the slot and calls the vendor under the
   core's timeout (``plugin_timeout_seconds``). The message id travels as the vendor's
   correlation field (Aliyun ``OutId``, Tencent ``SessionContext``).
3. Acceptance is committed with the job's completion. A temporary failure (or a timeout)
   is counted against the vendor and the message goes back to ``queued`` and on to the next
   vendor; when every vendor failed, the job is retried with backoff. A plugin that cannot
   send this message at all (its ``PermanentPluginError``: no vendor template, say) passes
   it on to the next vendor too, and when none can, it fails at once. A vendor's permanent
   failure (a bad number), or ``sms.max_attempts`` vendor calls, ends the message
   ``failed`` with the reason.

A worker that dies between the vendor's acceptance and the commit leaves the message
``sending``; the job's lease runs out and the next worker sends it again, to the same vendor
and with the same correlation id (counted in ``repeats``), so the vendor and the receipts
can recognise it. A message in any other state is never handed over again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, cast

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core import jobs, receipts, sms_vendors
from ruxue_core.db import execute
from ruxue_core.domain import Application, Message, Season
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.notify import render, template_by_code, template_fields
from ruxue_core.plugins.contracts import SmsReceipt, SmsRequest, StatusQuery

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime
    from ruxue_core.uow import UnitOfWork

log = logging.getLogger(__name__)

SENT: Final = frozenset({MessageStatus.ACCEPTED, MessageStatus.DELIVERED})
UNABLE: Final = "ruxue.unable"
"""The code of a receipt standing for the plugin's own ``PermanentPluginError`` (say, no
vendor template for this message): this vendor cannot send it, another one may."""
CLAIMABLE: Final = (MessageStatus.QUEUED, MessageStatus.SENDING)
TIMED_OUT: Final = "ruxue.timeout"
"""The code of a receipt standing for a vendor call the core's timeout cut short: the
vendor may have accepted the message, so it is asked (:func:`ask_vendor`) before failover."""


class Unknown:
    """The vendor could not say whether it holds the message (see :func:`ask_vendor`)."""


UNKNOWN: Final = Unknown()
NOT_ASKABLE: Final = "not askable"


@dataclass(frozen=True, slots=True)
class Claim:
    """A message handed to one vendor: what to send, and when its rate-limit slot comes.

    ``departs`` is on this process's monotonic clock, fixed when the slot was reserved, so
    that the time the claim took to commit does not shift the send (which would bunch sends
    up at the vendor).
    """

    message_id: int
    vendor: str
    request: SmsRequest = field(repr=False)
    departs: float = 0.0
    repeat: bool = False
    """An earlier call to ``vendor`` has an unknown outcome (it timed out, or a worker died)."""
    since: datetime | None = None
    """When the first call for this message to ``vendor`` may have reached it."""


class NoVendorLeft:
    """Every configured vendor failed temporarily in this round."""


NO_VENDOR_LEFT: Final = NoVendorLeft()


@functools.cache
def _fail_statement() -> sa.Update:
    """The statement of :func:`fail`, built once (building it costs more than running it)."""
    return (
        sa.update(Message)
        .where(col(Message.id) == sa.bindparam("p_id"), col(Message.status).in_(CLAIMABLE))
        .values(status=MessageStatus.FAILED, error=sa.bindparam("p_error"))
    )


def fail(uow: UnitOfWork, message_id: int, reason: str) -> None:
    """End a message ``failed`` with ``reason`` (kept for staff)."""
    execute(uow.session, _fail_statement(), {"p_id": message_id, "p_error": reason[:500]})


@functools.cache
def _load_statement() -> sa.Select[Message, bytes, Season]:
    """The statement of :func:`_load`, built once."""
    return (
        sa.select(Message, col(Application.query_code_ct), Season)
        .join(Application, col(Application.id) == Message.application_id)
        .join(Season, col(Season.id) == Application.season_id)
        .where(col(Message.key) == sa.bindparam("key"))
    )


def _load(uow: UnitOfWork, key: str) -> tuple[Message, bytes, Season] | None:
    row = uow.session.execute(_load_statement(), {"key": key}).first()
    return None if row is None else (row[0], row[1], row[2])


def _request(uow: UnitOfWork, message: Message, query_code_ct: bytes, season: Season) -> SmsRequest:
    """The SMS to send; :raises PermanentPluginError: no such template, or a bad text."""
    template = template_by_code(season, message.template)
    if template is None:
        raise PermanentPluginError(f"模板 {message.template} 不存在")
    params = dict(message.params)
    if "query_code" in template_fields(template["text"]):
        params["query_code"] = uow.cipher.decrypt(query_code_ct, purpose="query_code")
    return SmsRequest(
        message_id=str(message.id),
        phone=uow.cipher.decrypt(message.phone_ct, purpose="message.phone"),
        template=message.template,
        params=params,
        text=render(template["text"], params),
    )


def claim(
    uow: UnitOfWork,
    key: str,
    *,
    tried: tuple[str, ...],
    final_round: bool,
    outcomes: Mapping[str, tuple[int, int]],
) -> Claim | NoVendorLeft | None:
    """Step 1 (in the job's lease-guarded transaction): claim the message for one vendor.

    :param outcomes: this process's ``(sends, errors)`` per vendor since it last wrote
        them, written here to the vendor rows this step locks anyway.
    :return: the claim; ``NO_VENDOR_LEFT`` when every vendor failed in this round; ``None``
        when there is nothing to send (not queued any more, or just failed for good).
    """
    loaded = _load(uow, key)
    if loaded is None:
        return None
    message, query_code_ct, season = loaded
    assert message.id is not None
    if message.status not in CLAIMABLE:
        return None
    sms = uow.settings.sms
    if message.attempts >= sms.max_attempts:
        fail(
            uow, message.id, f"已尝试 {message.attempts} 次仍未发出：{message.error or '未知原因'}"
        )
        return None
    candidates = [name for name in uow.settings.notifiers if name not in tried]
    if not candidates:
        if not uow.settings.notifiers:
            fail(uow, message.id, "未配置短信服务商")
            return None
        if final_round:
            fail(uow, message.id, f"各短信服务商均暂时失败：{message.error or '未知原因'}")
            return None
        return NO_VENDOR_LEFT
    try:
        request = _request(uow, message, query_code_ct, season)
    except PermanentPluginError as exc:
        fail(uow, message.id, str(exc))
        return None
    repeat = message.status is MessageStatus.SENDING
    since = _utc(message.sending_at) if repeat and message.sending_at else _utc(uow.now)
    now = sms_vendors.database_clock(uow.session)
    states = sms_vendors.lock(uow.session, candidates)
    for name, (sends, errors) in outcomes.items():
        if name in states:
            sms_vendors.record(states[name], now, sms, sends=sends, errors=errors)
    if repeat and message.vendor in states:
        vendor = message.vendor  # the outcome is unknown: the same vendor sees the same id
    else:
        vendor = sms_vendors.choose(states, now, sms)
    departs = time.monotonic() + sms_vendors.reserve(states[vendor], now, sms)
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == message.id)
        .values(
            status=MessageStatus.SENDING,
            vendor=vendor,
            attempts=col(Message.attempts) + 1,
            sending_at=message.sending_at if repeat and message.sending_at else uow.now,
        )
    )
    repeat = repeat and vendor == message.vendor
    return Claim(message.id, vendor, request, departs, repeat, since)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def count_repeat(uow: UnitOfWork, sent: Claim) -> None:
    """A message whose earlier outcome stayed unknown is handed to its vendor again."""
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == sent.message_id)
        .values(repeats=col(Message.repeats) + 1)
    )
    log.warning("sms %s: sent again to %s after an unknown outcome", sent.message_id, sent.vendor)


def accepted(uow: UnitOfWork, sent: Claim, receipt: SmsReceipt) -> None:
    """Step 3 on success (run with the job's completion): the vendor took the message."""
    status = MessageStatus.DELIVERED if receipt.status is MessageStatus.DELIVERED else None
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == sent.message_id)
        .values(vendor_message_id=receipt.vendor_message_id, sent_at=uow.now, error=None)
    )
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == sent.message_id, col(Message.status) == MessageStatus.SENDING)
        .values(
            status=status or MessageStatus.ACCEPTED,
            delivered_at=uow.now if status else None,
        )
    )
    if receipt.vendor_message_id:
        receipts.apply_pending(uow, sent.vendor, receipt.vendor_message_id)


def refused(uow: UnitOfWork, sent: Claim, reason: str) -> None:
    """Step 3 on a permanent failure: the message ends ``failed`` with the vendor's reason."""
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == sent.message_id, col(Message.status) == MessageStatus.SENDING)
        .values(status=MessageStatus.FAILED, error=reason[:500])
    )


def requeue(uow: UnitOfWork, sent: Claim, reason: str) -> None:
    """After a temporary failure: the message is queued again, with the reason."""
    uow.session.execute(
        sa.update(Message)
        .where(col(Message.id) == sent.message_id, col(Message.status) == MessageStatus.SENDING)
        .values(status=MessageStatus.QUEUED, error=reason[:500])
    )


async def call_vendor(runtime: Runtime, sent: Claim) -> SmsReceipt:
    """Step 2: wait for the rate-limit slot, then send under the core's timeout.

    The shared slot (from the database) spaces sends across workers; within this process
    sends to one vendor also leave at least an interval apart (``sms_vendors.Pacer``), so a
    stalled event loop never releases its overdue sends in a bunch.

    Vendor answers are mapped onto the receipt vocabulary: a ``TemporaryPluginError`` or a
    timeout becomes ``temporary_failure``, a ``PermanentPluginError`` ``permanent_failure``
    with the code :data:`UNABLE`.
    """
    rate = runtime.settings.sms.vendor(sent.vendor).rate_per_second
    if rate is not None:
        pacer = runtime.sms_pacers.setdefault(sent.vendor, sms_vendors.Pacer())
        await pacer.depart(sent.departs, 1.0 / rate)
    notifier = runtime.host.notifier(sent.vendor)
    if notifier is None:
        return SmsReceipt(MessageStatus.PERMANENT_FAILURE, detail="短信服务商未安装")
    try:
        async with asyncio.timeout(runtime.settings.plugin_timeout_seconds):
            return await notifier.send(sent.request)
    except TimeoutError:
        return SmsReceipt(MessageStatus.TEMPORARY_FAILURE, vendor_code=TIMED_OUT, detail="调用超时")
    except TemporaryPluginError as exc:
        return SmsReceipt(MessageStatus.TEMPORARY_FAILURE, detail=str(exc))
    except PermanentPluginError as exc:
        return SmsReceipt(MessageStatus.PERMANENT_FAILURE, vendor_code=UNABLE, detail=str(exc))


async def ask_vendor(runtime: Runtime, sent: Claim) -> SmsReceipt | Unknown | str | None:
    """Ask ``sent.vendor`` what became of a call whose outcome is unknown.

    :return: the vendor's receipt when it holds the message; ``None`` when it certainly
        does not; :data:`UNKNOWN` when it cannot tell now (its query failed or timed out);
        :data:`NOT_ASKABLE` when its notifier has no ``query_status`` (the documented
        default: the core then treats the outcome as not accepted).
    """
    notifier = runtime.host.notifier(sent.vendor)
    if notifier is None or not callable(getattr(notifier, "query_status", None)):
        return NOT_ASKABLE
    asker = cast(StatusQuery, notifier)
    try:
        async with asyncio.timeout(runtime.settings.plugin_timeout_seconds):
            found = await asker.query_status(sent.request, sent.since or datetime.now(UTC))
    except (TimeoutError, TemporaryPluginError, PermanentPluginError):
        log.warning("sms %s: %s cannot tell what became of it", sent.message_id, sent.vendor)
        return UNKNOWN
    if found is not None and found.status is MessageStatus.TEMPORARY_FAILURE:
        return None  # the vendor holds a refusal worth retrying: as if it never took it
    return found


def _settled(sent: Claim, receipt: SmsReceipt) -> jobs.Apply:
    """The final step for a vendor's definite answer (accepted, delivered or refused)."""
    if receipt.status in SENT:
        return functools.partial(accepted, sent=sent, receipt=receipt)
    return functools.partial(refused, sent=sent, reason=_reason(sent.vendor, receipt))


def _reason(vendor: str, receipt: SmsReceipt) -> str:
    code = f"[{receipt.vendor_code}] " if receipt.vendor_code not in (None, "", UNABLE) else ""
    return f"{vendor}: {code}{receipt.detail or receipt.status.value}"


async def send_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Job ``notify.send``: send one message, failing over between vendors (see module)."""
    runtime = context.runtime
    key = str(context.job.payload["message_key"])
    final_round = context.job.attempts >= context.job.max_attempts
    tried: list[str] = []
    unable: list[str] = []
    reasons: list[str] = []
    last: Claim | None = None
    while True:
        candidates = [n for n in runtime.settings.notifiers if n not in tried]
        step = functools.partial(
            claim,
            key=key,
            tried=tuple(tried),
            final_round=final_round,
            outcomes=runtime.sms_tallies.take(candidates),
        )
        sent = await context.transaction(step)
        if sent is None:
            return None
        if isinstance(sent, NoVendorLeft):
            if last is not None and set(unable) == set(tried):  # no vendor can ever send it
                ending = functools.partial(
                    fail, message_id=last.message_id, reason="；".join(reasons)
                )
                await context.transaction(ending)
                return None
            raise TemporaryPluginError("; ".join(reasons) or "没有可用的短信服务商")
        last = sent
        if sent.repeat:
            known = await ask_vendor(runtime, sent)
            if isinstance(known, SmsReceipt):
                return _settled(sent, known)
            if known is UNKNOWN:
                return await _still_unknown(context, sent, final_round)
            await context.transaction(functools.partial(count_repeat, sent=sent))
        receipt = await call_vendor(runtime, sent)
        if receipt.vendor_code == TIMED_OUT:
            timed_out = replace(sent, since=sent.since or datetime.now(UTC))
            known = await ask_vendor(runtime, timed_out)
            if isinstance(known, SmsReceipt):
                runtime.sms_tallies.add(sent.vendor, error=True)
                return _settled(sent, known)
            if known is UNKNOWN:
                runtime.sms_tallies.add(sent.vendor, error=True)
                return await _still_unknown(context, sent, final_round)
        temporary = receipt.status is MessageStatus.TEMPORARY_FAILURE
        runtime.sms_tallies.add(sent.vendor, error=temporary)
        reason = _reason(sent.vendor, receipt)
        if receipt.status in SENT:
            return functools.partial(accepted, sent=sent, receipt=receipt)
        if receipt.status is MessageStatus.PERMANENT_FAILURE and receipt.vendor_code != UNABLE:
            return functools.partial(refused, sent=sent, reason=reason)
        if receipt.vendor_code == UNABLE:
            unable.append(sent.vendor)
        log.warning("sms %s via %s failed", sent.message_id, sent.vendor)
        await context.transaction(functools.partial(requeue, sent=sent, reason=reason))
        tried.append(sent.vendor)
        reasons.append(reason)


async def _still_unknown(context: jobs.JobContext, sent: Claim, final_round: bool) -> jobs.Apply:
    """The vendor may hold the message but cannot say: send it nowhere now.

    The message stays ``sending`` with this vendor, and the job is retried with backoff (the
    next try asks again). On the job's last try the message is failed with the reason, so
    nothing stays open for ever.
    """
    reason = f"{sent.vendor}: 调用超时且服务商暂无法确认是否已受理"
    if final_round:
        return functools.partial(fail, message_id=sent.message_id, reason=reason)
    await context.transaction(functools.partial(_note, message_id=sent.message_id, reason=reason))
    raise TemporaryPluginError(reason)


def _note(uow: UnitOfWork, message_id: int, reason: str) -> None:
    """Keep why a message is still ``sending`` (staff see it; a final failure quotes it)."""
    uow.session.execute(
        sa.update(Message).where(col(Message.id) == message_id).values(error=reason[:500])
    )
