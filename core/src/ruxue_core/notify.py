"""SMS: the season's templates turn a status change into a Message row; a job dispatches it
through the configured notifier plugins in order, failing over on errors.

Parameters never hold an ID number or an address. The query code (查询密码) is bound only at
send time, from the application's encrypted copy, so no message row stores it in clear.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ruxue_core import jobs
from ruxue_core.domain import Application, Child, Guardian, Message, Season
from ruxue_core.domain.enums import STATUS_LABELS, MessageStatus
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import SmsReceipt, SmsRequest
from ruxue_core.security import mask_name
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime

log = logging.getLogger(__name__)

ALLOWED_PARAMS: Final = frozenset({"receipt_no", "child", "status", "query_code", "school"})
_ID_LIKE: Final = re.compile(r"\d{15,}[\dXx]?")


def _templates(season: Season) -> Mapping[str, Mapping[str, str]]:
    """The season's ``{code, text}`` templates keyed by the status that sends them."""
    templates: Mapping[str, Mapping[str, str]] = season.policy.get("sms", {}).get("templates", {})
    return templates


def template_for(season: Season, status: str) -> Mapping[str, str] | None:
    """The season's template attached to ``status``, if any."""
    return _templates(season).get(status)


def template_by_code(season: Season, code: str) -> Mapping[str, str] | None:
    """The season's template with the stable ``code``, if any."""
    return next((t for t in _templates(season).values() if t.get("code") == code), None)


def template_fields(text: str) -> set[str]:
    """The placeholder names a template text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


async def queue_for_status(uow: UnitOfWork, application: Application) -> Message | None:
    """Queue the SMS the season attaches to the application's new status (same transaction)."""
    season = await uow.session.get(Season, application.season_id)
    assert season is not None
    template = template_for(season, application.status.value)
    if template is None:
        return None
    child = await uow.session.get(Child, application.child_id)
    guardian = await uow.session.get(Guardian, application.guardian_id)
    assert child is not None and guardian is not None
    available = {
        "receipt_no": application.receipt_no,
        "child": mask_name(child.name),
        "status": STATUS_LABELS[application.status],
    }
    wanted = template_fields(template["text"])
    phone = uow.cipher.decrypt(guardian.phone_ct, purpose="guardian.phone")
    message = Message(
        application_id=application.id,
        template=template["code"],
        params={k: v for k, v in available.items() if k in wanted},
        phone_ct=uow.cipher.encrypt(phone, purpose="message.phone"),
    )
    uow.session.add(message)
    await uow.session.flush()
    await uow.enqueue("notify.send", {"message_id": message.id}, key=f"sms:{message.id}")
    return message


def render(text: str, params: Mapping[str, str]) -> str:
    """Fill a template; refuses a result that looks like it carries an ID number."""
    rendered = text.format_map(dict(params))
    if _ID_LIKE.search(rendered.replace(params.get("receipt_no", "\x00"), "")):
        raise PermanentPluginError("短信内容疑似包含身份证号码，已拦截")
    return rendered


async def send_handler(runtime: Runtime, job: jobs.ClaimedJob) -> jobs.Apply:
    """Job ``notify.send``: send one message through the notifiers in failover order."""
    message_id = int(job.payload["message_id"])
    async with runtime.unit_of_work(read_only=True) as uow:
        message = await uow.session.get(Message, message_id)
        assert message is not None, f"message {message_id} does not exist"
        application = await uow.session.get(Application, message.application_id)
        assert application is not None
        season = await uow.session.get(Season, application.season_id)
        assert season is not None
    template = template_by_code(season, message.template)
    if template is None:
        raise PermanentPluginError(f"模板 {message.template} 不存在")
    params = dict(message.params)
    if "query_code" in template_fields(template["text"]):
        params["query_code"] = runtime.cipher.decrypt(
            application.query_code_ct, purpose="query_code"
        )
    request = SmsRequest(
        message_id=str(message_id),
        phone=runtime.cipher.decrypt(message.phone_ct, purpose="message.phone"),
        template=message.template,
        params=params,
        text=render(template["text"], params),
    )
    vendor, receipt = await _dispatch(runtime, request)

    async def apply(uow: UnitOfWork) -> None:
        stored = await uow.session.get(Message, message_id)
        assert stored is not None
        stored.attempts += 1
        stored.vendor = vendor
        stored.status = receipt.status
        stored.vendor_message_id = receipt.vendor_message_id
        stored.error = receipt.detail
        stored.sent_at = utcnow()
        uow.session.add(stored)

    return apply


async def _dispatch(runtime: Runtime, request: SmsRequest) -> tuple[str, SmsReceipt]:
    """Try each configured vendor in order; temporary faults move on to the next one."""
    last: SmsReceipt | None = None
    temporary: list[str] = []
    for name, notifier in runtime.host.notifiers():
        try:
            receipt = await notifier.send(request)
        except TemporaryPluginError as exc:
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
