"""Statement budget of sending one SMS: the job's claim, the message's claim (vendor choice
and rate-limit slot), and the final step with the job's completion (see
``test_statement_budgets.py`` for how statements are counted)."""

from __future__ import annotations

from collections.abc import Callable

from conftest import open_sample_season
from sms_helpers import ScriptedNotifier, messages, queue_messages

from ruxue_core.domain import Message
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.notify import SEND_KIND
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, SmsSettings, SmsVendorSettings
from ruxue_core.testing.fakes import CapturingNotifierPlugin
from ruxue_core.uow import UnitOfWork

from .test_statement_budgets import measure, within


def one_more(application_id: int) -> Callable[[UnitOfWork], None]:
    """A unit of work queueing one more SMS (and its send job) for the application."""

    def write(uow: UnitOfWork) -> None:
        key = f"budget-{application_id}:RX_APPROVED"
        uow.insert_at_commit(
            Message(
                key=key,
                application_id=application_id,
                template="RX_APPROVED",
                params={"receipt_no": "42070420261130000000001", "child": "张*明"},
                phone_ct=uow.cipher.encrypt("13900000001", purpose="message.phone"),
                created_at=uow.now,
            )
        )
        uow.enqueue(SEND_KIND, {"message_key": key}, key=f"sms:{key}")
        uow.commit()

    return write


async def test_one_sms(settings: Settings, season_file: SeasonFile) -> None:
    vendor = ScriptedNotifier("v")
    sms = SmsSettings(vendors={"v": SmsVendorSettings(rate_per_second=1000)})
    tuned = settings.model_copy(update={"notifiers": ["v"], "sms": sms})
    rt = Runtime.create(tuned, extra_plugins=[CapturingNotifierPlugin(vendor, name="v")])
    try:
        season = await open_sample_season(rt, season_file)
        [first, *_] = await queue_messages(rt, season, 0)
        worker = Worker(rt, HANDLERS)
        await worker.drain()
        application_id = next(m.application_id for m in await messages(rt) if m.id == first)
        assert application_id is not None
        await rt.write(one_more(application_id))
        claimed, counted = await measure(rt, worker.run_once)
        rows = await messages(rt)
    finally:
        await rt.close()
    assert claimed == 1
    assert all(m.status is MessageStatus.ACCEPTED for m in rows)
    # Three units: the job's claim; the message's claim (renew the lease, load, the
    # database's clock, the vendor row, the update); the final step with the job's
    # completion. Measured 11 statements on SQLite and on PostgreSQL.
    within(counted, statements=11, units=3)
