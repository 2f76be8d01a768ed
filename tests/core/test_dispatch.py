"""SMS dispatch: claim only queued messages, weighted vendors with failover, error-driven
weights, rate-limit slots shared across workers, bounded retries, delivery receipts."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
import sqlalchemy as sa
from conftest import open_sample_season
from sms_helpers import (
    ScriptedNotifier,
    always_permanent,
    always_temporary,
    messages,
    queue_messages,
    refusing_config,
    statuses,
)
from sqlmodel import col

from ruxue_core import receipts, sms_vendors
from ruxue_core.domain import Message, SmsVendorState
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.errors import TemporaryPluginError
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import SmsReceipt, SmsRequest
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, SmsSettings, SmsVendorSettings
from ruxue_core.testing.fakes import CapturingNotifierPlugin
from ruxue_core.uow import UnitOfWork

Build = Callable[..., AsyncIterator[Runtime]]


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """No verifier; quick retries and a short plugin timeout."""
    worker = settings.worker.model_copy(update={"backoff_base": 0.001, "backoff_cap": 0.002})
    return settings.model_copy(update={"worker": worker, "plugin_timeout_seconds": 0.3})


async def start(settings: Settings, *vendors: ScriptedNotifier, **sms: object) -> Runtime:
    tuned = settings.model_copy(
        update={
            "notifiers": [v.name for v in vendors],
            "sms": SmsSettings.model_validate({**SmsSettings().model_dump(), **sms}),
        }
    )
    plugins = [CapturingNotifierPlugin(v, name=v.name) for v in vendors]
    return Runtime.create(tuned, extra_plugins=plugins)


async def drain(rt: Runtime) -> None:
    """Work until no message is queued or sending (a retry may be due a moment later)."""
    worker = Worker(rt, HANDLERS)
    for _ in range(200):
        await worker.drain()
        open_ = {MessageStatus.QUEUED, MessageStatus.SENDING}
        if not any(m.status in open_ for m in await messages(rt)):
            return
        await asyncio.sleep(0.01)


def sent_total(*vendors: ScriptedNotifier) -> dict[str, int]:
    """How many times each message id was accepted, across the vendors."""
    total: dict[str, int] = {}
    for vendor in vendors:
        for message_id, n in vendor.accepted.items():
            total[message_id] = total.get(message_id, 0) + n
    return total


async def test_a_failing_vendor_fails_over_and_each_message_is_sent_once(
    quick: Settings, season_file: SeasonFile
) -> None:
    down, up = ScriptedNotifier("down", always_temporary), ScriptedNotifier("up")
    rt = await start(quick, down, up)
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 30)
        await drain(rt)
        rows = await messages(rt)
        weights = await rt.read(
            lambda uow: sms_vendors.weights(uow.session, ["down", "up"], uow.settings.sms)
        )
    finally:
        await rt.close()
    assert statuses(rows) == {MessageStatus.ACCEPTED: len(rows)}
    assert all(m.vendor == "up" for m in rows)
    # The failures were written to the vendor's row by later claims: it lost weight.
    assert weights["down"] < 0.5 * weights["up"], weights
    assert set(sent_total(down, up).values()) == {1}
    assert len(sent_total(down, up)) == len(rows)
    assert down.calls > 0, "the failing vendor was tried (weights start equal)"
    # Each message that met the failing vendor took two calls, the rest one.
    assert sum(m.attempts for m in rows) == len(rows) + down.calls


async def test_the_failing_vendor_loses_weight_and_regains_it() -> None:
    settings = SmsSettings(error_half_life_seconds=10.0)
    state = SmsVendorState(name="a")
    other = SmsVendorState(name="b")
    healthy = sms_vendors.effective_weight(state, 1000.0, settings)
    for _ in range(20):
        sms_vendors.record(state, 1000.0, settings, errors=1)
        sms_vendors.record(other, 1000.0, settings)
    assert sms_vendors.effective_weight(state, 1000.0, settings) == pytest.approx(
        healthy * settings.min_weight_share
    )
    assert sms_vendors.effective_weight(other, 1000.0, settings) == healthy
    # Successes after recovery and time both bring the weight back.
    for _ in range(20):
        sms_vendors.record(state, 1100.0, settings)
    assert sms_vendors.effective_weight(state, 1100.0, settings) > 0.99 * healthy


async def test_choice_follows_weights() -> None:
    settings = SmsSettings(vendors={"a": SmsVendorSettings(weight=3), "b": SmsVendorSettings()})
    states = {"a": SmsVendorState(name="a"), "b": SmsVendorState(name="b")}
    picks = [sms_vendors.choose(states, 0.0, settings) for _ in range(4000)]
    assert 0.7 < picks.count("a") / len(picks) < 0.8


def test_gcra_slots_space_sends_by_the_rate_and_allow_the_burst() -> None:
    settings = SmsSettings(vendors={"a": SmsVendorSettings(rate_per_second=10, burst=3)})
    state = SmsVendorState(name="a")
    waits = [sms_vendors.reserve(state, 100.0, settings) for _ in range(6)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])
    # Later, the bucket has drained: the burst is available again.
    assert sms_vendors.reserve(state, 200.0, settings) == 0.0


async def test_overdue_sends_leave_one_interval_apart() -> None:
    """Slots long past (as after a stalled event loop) do not release their sends at once."""
    pacer = sms_vendors.Pacer()
    departed: list[float] = []

    async def send() -> None:
        await pacer.depart(time.monotonic() - 1.0, 0.02)
        departed.append(time.monotonic())

    await asyncio.gather(*(send() for _ in range(5)))
    gaps = [later - earlier for earlier, later in itertools.pairwise(departed)]
    assert len(gaps) == 4
    assert min(gaps) >= 0.02 * 0.99, gaps


async def test_a_send_waits_for_its_slot() -> None:
    pacer = sms_vendors.Pacer()
    slot = time.monotonic() + 0.05
    await pacer.depart(slot, 0.01)
    assert time.monotonic() >= slot - 0.001


async def test_rate_slots_are_shared_through_the_database(runtime: Runtime) -> None:
    """Two transactions (as two workers would) take successive slots of one vendor row."""
    sms = SmsSettings(vendors={"a": SmsVendorSettings(rate_per_second=2)})

    def take(uow: UnitOfWork) -> float:
        now = sms_vendors.database_clock(uow.session)
        state = sms_vendors.lock(uow.session, ["a"])["a"]
        wait = sms_vendors.reserve(state, now, sms)
        uow.commit()
        return wait

    waits = [await runtime.write(take) for _ in range(4)]
    assert waits[0] == pytest.approx(0.0, abs=0.05)
    assert waits[3] == pytest.approx(1.5, abs=0.1)


async def test_bounded_retries_end_failed_with_the_reason(
    quick: Settings, season_file: SeasonFile
) -> None:
    a, b = ScriptedNotifier("a", always_temporary), ScriptedNotifier("b", always_temporary)
    rt = await start(quick, a, b, max_attempts=5)
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 3)
        await drain(rt)
        rows = await messages(rt)
    finally:
        await rt.close()
    assert statuses(rows) == {MessageStatus.FAILED: len(rows)}
    for row in rows:
        assert row.attempts == 5
        assert row.error is not None and "服务暂不可用" in row.error
    assert a.calls + b.calls == 5 * len(rows)


async def test_a_permanent_failure_is_not_retried(quick: Settings, season_file: SeasonFile) -> None:
    refuses = ScriptedNotifier("refuses", always_permanent)
    broken = ScriptedNotifier("broken", refusing_config)
    for vendor in (refuses, broken):
        rt = await start(quick, vendor)
        try:
            season = await open_sample_season(rt, season_file)
            await queue_messages(rt, season, 2)
            await drain(rt)
            rows = await messages(rt)
            await rt.write(lambda uow: _wipe(uow))
        finally:
            await rt.close()
        assert statuses(rows) == {MessageStatus.FAILED: len(rows)}
        assert all(m.attempts == 1 for m in rows)
    assert all("模板未配置" in (m.error or "") for m in rows), "the last run: broken"
    assert refuses.calls == broken.calls


def _wipe(uow: UnitOfWork) -> None:
    for table in ("sms_receipt", "message", "job", "sms_vendor_state"):
        uow.session.execute(sa.text(f"DELETE FROM {table}"))
    uow.commit()


async def test_a_hanging_vendor_times_out_into_failover(
    quick: Settings, season_file: SeasonFile
) -> None:
    hangs, up = ScriptedNotifier("hangs", delay=5.0), ScriptedNotifier("up")
    rt = await start(quick, hangs, up, vendors={"hangs": {"weight": 1000}, "up": {"weight": 1}})
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 2)
        await drain(rt)
        rows = await messages(rt)
    finally:
        await rt.close()
    assert statuses(rows) == {MessageStatus.ACCEPTED: len(rows)}
    assert all(m.vendor == "up" for m in rows)


async def test_only_a_queued_message_is_handed_over_and_a_crash_resends_same_id(
    quick: Settings, season_file: SeasonFile
) -> None:
    vendor = ScriptedNotifier("v")
    rt = await start(quick, vendor)
    try:
        season = await open_sample_season(rt, season_file)
        ids = await queue_messages(rt, season, 3)
        done, crashed = ids[0], ids[1]

        def prepare(uow: UnitOfWork) -> None:
            uow.session.execute(
                sa.update(Message)
                .where(col(Message.id) == done)
                .values(status=MessageStatus.ACCEPTED, vendor="v")
            )
            uow.session.execute(
                sa.update(Message)
                .where(col(Message.id) == crashed)
                .values(status=MessageStatus.SENDING, vendor="v", attempts=1)
            )
            uow.commit()

        await rt.write(prepare)
        await drain(rt)
        rows = {m.id: m for m in await messages(rt)}
    finally:
        await rt.close()
    assert str(done) not in vendor.accepted
    assert vendor.accepted[str(crashed)] == 1
    assert (rows[crashed].repeats, rows[crashed].attempts) == (1, 2)
    assert all(row.repeats == 0 for i, row in rows.items() if i != crashed)


async def test_receipts_are_idempotent_and_wait_for_their_message(
    quick: Settings, season_file: SeasonFile
) -> None:
    vendor = ScriptedNotifier("v")
    rt = await start(quick, vendor)
    try:
        season = await open_sample_season(rt, season_file)
        ids = await queue_messages(rt, season, 2)
        early = SmsReceipt(MessageStatus.DELIVERED, vendor_message_id=f"v-{ids[0]}-1")
        tally = await rt.write(lambda uow: receipts.record(uow, "v", [early]))
        assert (tally.new, tally.matched) == (1, 0), "no message carries that id yet"
        await drain(rt)  # the first send of ids[0] gets the vendor id v-<id>-1
        rows = {m.id: m for m in await messages(rt)}
        assert rows[ids[0]].status is MessageStatus.DELIVERED
        failed = SmsReceipt(
            MessageStatus.PERMANENT_FAILURE,
            vendor_message_id="whatever",
            message_id=str(ids[1]),
            vendor_code="UNDELIV",
            detail="用户停机",
        )
        first = await rt.write(lambda uow: receipts.record(uow, "v", [failed, early]))
        again = await rt.write(lambda uow: receipts.record(uow, "v", [failed, early]))
        rows = {m.id: m for m in await messages(rt)}
    finally:
        await rt.close()
    assert (first.new, first.repeated, first.matched) == (1, 1, 1)
    assert (again.new, again.repeated, again.matched) == (0, 2, 0)
    assert rows[ids[1]].status is MessageStatus.FAILED
    assert "用户停机" in (rows[ids[1]].error or "")


async def test_a_vendor_that_cannot_send_a_template_passes_it_on(
    quick: Settings, season_file: SeasonFile
) -> None:
    broken, up = ScriptedNotifier("broken", refusing_config), ScriptedNotifier("up")
    rt = await start(quick, broken, up, vendors={"broken": {"weight": 1000}, "up": {"weight": 1}})
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 5)
        await drain(rt)
        rows = await messages(rt)
    finally:
        await rt.close()
    assert statuses(rows) == {MessageStatus.ACCEPTED: len(rows)}
    assert all(m.vendor == "up" for m in rows)
    assert broken.calls > 0


class AcceptsThenStalls(ScriptedNotifier):
    """Takes every message at once but answers only after ``delay`` (past the core's
    timeout); its ``query_status`` answers from what it took, or cannot tell."""

    def __init__(self, name: str, *, can_tell: bool = True) -> None:
        super().__init__(name)
        self.can_tell = can_tell
        self.queries = 0

    async def send(self, request: SmsRequest) -> SmsReceipt:
        self.calls += 1
        self.accepted[request.message_id] += 1
        await asyncio.sleep(5.0)
        return SmsReceipt(MessageStatus.ACCEPTED, vendor_message_id="late")

    async def query_status(self, request: SmsRequest, sent_at: datetime) -> SmsReceipt | None:
        self.queries += 1
        if not self.can_tell:
            raise TemporaryPluginError("查询暂不可用")
        if self.accepted[request.message_id]:
            return SmsReceipt(
                MessageStatus.ACCEPTED, f"{self.name}-{request.message_id}", "OK", None
            )
        return None


async def test_a_timeout_after_acceptance_is_settled_by_asking_the_vendor(
    quick: Settings, season_file: SeasonFile
) -> None:
    stalls, up = AcceptsThenStalls("stalls"), ScriptedNotifier("up")
    rt = await start(quick, stalls, up, vendors={"stalls": {"weight": 1000}, "up": {"weight": 1}})
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 2)
        await drain(rt)
        rows = await messages(rt)
    finally:
        await rt.close()
    assert statuses(rows) == {MessageStatus.ACCEPTED: len(rows)}
    assert all(m.vendor == "stalls" and m.repeats == 0 for m in rows)
    assert stalls.queries == len(rows)
    assert sent_total(stalls, up) == {str(m.id): 1 for m in rows}, "none sent twice"


async def test_a_vendor_that_cannot_tell_never_hands_the_message_elsewhere(
    quick: Settings, season_file: SeasonFile
) -> None:
    stalls, up = AcceptsThenStalls("stalls", can_tell=False), ScriptedNotifier("up")
    rt = await start(quick, stalls, up, vendors={"stalls": {"weight": 1000}, "up": {"weight": 1}})
    try:
        season = await open_sample_season(rt, season_file)
        await queue_messages(rt, season, 1)
        await drain(rt)
        rows = await messages(rt)
    finally:
        await rt.close()
    took = set(stalls.accepted)
    assert took, "the stalling vendor (weight 1000 to 1) took messages"
    for m in rows:
        if str(m.id) not in took:
            # A message first claimed after the stalls lowered that vendor's weight went to
            # the other vendor at once: failover for a fresh message, not a hand-over.
            assert (m.status, m.vendor, stalls.accepted[str(m.id)]) == (
                MessageStatus.ACCEPTED,
                "up",
                0,
            )
            continue
        assert m.status is MessageStatus.FAILED
        assert m.error and "无法确认是否已受理" in m.error, m.error
        assert up.accepted[str(m.id)] == 0, "an unconfirmed outcome is never sent elsewhere"
        assert stalls.accepted[str(m.id)] == 1, "nor sent to the same vendor again"
