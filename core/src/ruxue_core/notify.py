"""SMS: the season's templates turn a status change into a Message row; a job dispatches it
through the configured notifier plugins in order, failing over on errors.

Parameters never hold an ID number or an address. The query code (查询密码) is bound only at
send time, from the application's encrypted copy, so no message row stores it in clear.
"""

from __future__ import annotations

import asyncio
import logging
import re
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core import jobs
from ruxue_core.domain import Application, Message, Season
from ruxue_core.domain.enums import STATUS_LABELS, Channel, MessageStatus
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import SmsReceipt, SmsRequest
from ruxue_core.security import mask_name
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.lifecycle import Case
    from ruxue_core.runtime import Runtime

log = logging.getLogger(__name__)

ALLOWED_PARAMS: Final = frozenset({"receipt_no", "child", "status", "query_code", "school"})
_ID_LIKE: Final = re.compile(r"\d{15,}[\dXx]?")


def _templates(season: Season, table: str = "templates") -> Mapping[str, Mapping[str, str]]:
    """The season's ``{code, text}`` templates keyed by the status that sends them."""
    templates: Mapping[str, Mapping[str, str]] = season.policy.get("sms", {}).get(table, {})
    return templates


def template_for(
    season: Season, status: str, channel: Channel = Channel.ONLINE
) -> Mapping[str, str] | None:
    """The season's template attached to ``status`` for an application's channel: a counter
    applicant gets the counter wording where the season gives one."""
    if channel is Channel.COUNTER:
        counter = _templates(season, "counter_templates").get(status)
        if counter is not None:
            return counter
    return _templates(season).get(status)


def template_by_code(season: Season, code: str) -> Mapping[str, str] | None:
    """The season's template with the stable ``code``, if any (either channel's)."""
    every = (*_templates(season).values(), *_templates(season, "counter_templates").values())
    return next((t for t in every if t.get("code") == code), None)


def template_fields(text: str) -> set[str]:
    """The placeholder names a template text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def queue_for_status(uow: UnitOfWork, case: Case) -> None:
    """Queue the SMS the season attaches to the application's new status (same transaction)."""
    application = case.application
    template = template_for(case.season, application.status.value, application.channel)
    if template is None:
        return
    available = {
        "receipt_no": application.receipt_no,
        "child": mask_name(case.child.name),
        "status": STATUS_LABELS[application.status],
    }
    wanted = template_fields(template["text"])
    phone = uow.cipher.decrypt(case.guardian.phone_ct, purpose="guardian.phone")
    key = f"{application.receipt_no}:v{application.version}:{template['code']}"
    uow.insert_at_commit(
        Message(
            key=key,
            application_id=application.id,
            template=template["code"],
            params={k: v for k, v in available.items() if k in wanted},
            phone_ct=uow.cipher.encrypt(phone, purpose="message.phone"),
            created_at=uow.now,
        )
    )
    uow.enqueue("notify.send", {"message_key": key}, key=f"sms:{key}")


def render(text: str, params: Mapping[str, str]) -> str:
    """Fill a template; refuses a result that looks like it carries an ID number."""
    rendered = text.format_map(dict(params))
    if _ID_LIKE.search(rendered.replace(params.get("receipt_no", "\x00"), "")):
        raise PermanentPluginError("短信内容疑似包含身份证号码，已拦截")
    return rendered


def _load(uow: UnitOfWork, key: str) -> tuple[Message, str, Season] | None:
    row = uow.session.exec(
        select(Message, Application.query_code_ct, Season)
        .join(Application, col(Application.id) == Message.application_id)
        .join(Season, col(Season.id) == Application.season_id)
        .where(col(Message.key) == key)
    ).first()
    if row is None:
        return None
    message, query_code_ct, season = row
    return message, uow.cipher.decrypt(query_code_ct, purpose="query_code"), season


async def send_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Job ``notify.send``: send one queued message through the notifiers in failover order.

    A message no longer ``queued`` (sent before a crash, say) is not handed over again.
    """
    runtime = context.runtime
    key = str(context.job.payload["message_key"])
    loaded = await runtime.read(lambda uow: _load(uow, key))
    if loaded is None:
        raise PermanentPluginError(f"message {key} does not exist")
    message, query_code, season = loaded
    if message.status is not MessageStatus.QUEUED:
        return None
    template = template_by_code(season, message.template)
    if template is None:
        raise PermanentPluginError(f"模板 {message.template} 不存在")
    params = dict(message.params)
    if "query_code" in template_fields(template["text"]):
        params["query_code"] = query_code
    request = SmsRequest(
        message_id=str(message.id),
        phone=runtime.cipher.decrypt(message.phone_ct, purpose="message.phone"),
        template=message.template,
        params=params,
        text=render(template["text"], params),
    )
    vendor, receipt = await _dispatch(runtime, request)

    def apply(uow: UnitOfWork) -> None:
        uow.session.execute(
            sa.update(Message)
            .where(col(Message.id) == message.id)
            .values(
                attempts=col(Message.attempts) + 1,
                vendor=vendor,
                status=receipt.status,
                vendor_message_id=receipt.vendor_message_id,
                error=receipt.detail,
                sent_at=utcnow(),
            )
        )

    return apply


async def _dispatch(runtime: Runtime, request: SmsRequest) -> tuple[str, SmsReceipt]:
    """Try each configured vendor in order; temporary faults move on to the next one."""
    last: SmsReceipt | None = None
    temporary: list[str] = []
    for name, notifier in runtime.host.notifiers():
        try:
            async with asyncio.timeout(runtime.settings.plugin_timeout_seconds):
                receipt = await notifier.send(request)
        except (TemporaryPluginError, TimeoutError) as exc:
            log.warning("sms %s via %s failed temporarily: %s", request.message_id, name, exc)
            temporary.append(f"{name}: {exc}")
            continue
        except PermanentPluginError as exc:
            last = SmsReceipt(MessageStatus.PERMANENT_FAILURE, detail=f"{name}: {exc}")
            continue
        if receipt.status in {MessageStatus.ACCEPTED, MessageStatus.DELIVERED}:
            return name, receipt
        last = receipt
    if temporary:
        raise TemporaryPluginError("; ".join(temporary))
    return "", last or SmsReceipt(MessageStatus.PERMANENT_FAILURE, detail="未配置短信服务商")
