"""SMS: the season's templates turn a status change into a Message row and its send job
(dispatched by :mod:`ruxue_core.dispatch`).

Parameters never hold an ID number or an address. The query code (查询密码) is bound only at
send time, from the application's encrypted copy, so no message row stores it in clear.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from ruxue_core.domain import Message, Season
from ruxue_core.domain.enums import STATUS_LABELS, Channel
from ruxue_core.errors import PermanentPluginError
from ruxue_core.security import mask_name
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.lifecycle import Case

SEND_KIND: Final = "notify.send"
ALLOWED_PARAMS: Final = frozenset(
    {"receipt_no", "child", "status", "query_code", "school", "report_date", "deadline"}
)
"""Placeholders a template may use. ``school``: the school the application is with (its
admission); ``report_date``: the season's ``[sms] report_date`` (报到日期); ``deadline``:
the end of the registration window (corrections must be in by then)."""
LOCAL: Final = ZoneInfo("Asia/Shanghai")
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
        "deadline": case.season.closes_at.astimezone(LOCAL).strftime("%-m月%-d日%H:%M"),
    }
    if case.school is not None:
        available["school"] = case.school.name
    report_date = case.season.policy.get("sms", {}).get("report_date")
    if report_date:
        available["report_date"] = f"{date.fromisoformat(report_date):%-m月%-d日}"
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
    uow.enqueue(SEND_KIND, {"message_key": key}, key=f"sms:{key}")


def render(text: str, params: Mapping[str, str]) -> str:
    """Fill a template; refuses a missing parameter or a result that looks like it carries
    an ID number (:raises PermanentPluginError: with the reason)."""
    try:
        rendered = text.format_map(dict(params))
    except (KeyError, IndexError, ValueError) as exc:
        raise PermanentPluginError(f"短信模板缺少参数：{exc}") from None
    if _ID_LIKE.search(rendered.replace(params.get("receipt_no", "\x00"), "")):
        raise PermanentPluginError("短信内容疑似包含身份证号码，已拦截")
    return rendered
