"""Acceptance of SMS dispatch through both real notifiers and the sandbox's fake vendors.

Sizes: ``RUXUE_SMS_N`` messages (200 by default; the issue's acceptance runs use 10,000).

- one vendor failing 30 % of sends: every message ends delivered, or failed with a reason;
  none is sent twice (counted at the fakes) and none is lost;
- a ``ruxue worker`` process killed mid-dispatch and another started: none is lost, and the
  ones sent again carry the same correlation id, to the same vendor (the count is printed);
- a burst keeps each vendor under its configured rate, measured at the fakes: their flow
  control (the configured rate, policed as GCRA with one second of tolerance for the jitter
  between the worker's paced sends and their arrival: the fakes run in threads of the test
  process, sharing its interpreter) never throttles, so over the whole burst each vendor saw
  at most rate × (span + tolerance) + 1 sends. The busiest single second and the arrivals a
  tighter (0.25 s) policer would have refused are printed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import open_sample_season
from sms_helpers import messages, queue_messages, statuses
from sms_world import SETTLED, SmsWorld, drain, environment, settle, size, sms_world

from ruxue_core.domain import Message
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings

pytestmark = pytest.mark.slow

STALL_ALLOWANCE = 90.0  # seconds without a send: start-up on a loaded machine included


def assert_each_sent_once_none_lost(world: SmsWorld, rows: Sequence[Message]) -> None:
    """Every message settled; each delivered one reached a vendor once; failures say why."""
    sends = world.sends_per_message()
    assert all(m.status in SETTLED for m in rows), statuses(rows)
    for message in rows:
        if message.status is MessageStatus.DELIVERED:
            assert sends[str(message.id)] == 1, (message.id, sends[str(message.id)])
        else:
            assert message.error, "a failed message carries its reason"


async def test_one_vendor_failing_30_percent(settings: Settings, season_file: SeasonFile) -> None:
    n = size(200)
    with sms_world(settings, aliyun_fail=0.3) as world:
        runtime = Runtime.create(world.settings)
        try:
            season = await open_sample_season(runtime, season_file)
            await queue_messages(runtime, season, n)
            rows = await settle(runtime)
        finally:
            await runtime.close()
        assert_each_sent_once_none_lost(world, rows)
        sends = world.sends_per_message()
        delivered = [m for m in rows if m.status is MessageStatus.DELIVERED]
        assert max(sends.values()) == 1, "no guardian got the same message twice"
        assert len(sends) == len(delivered), "every accepted send was delivered and matched"
        assert world.aliyun.failed > 0
        share = sum(world.aliyun.accepted.values()) / len(delivered)
        print(
            f"\nsms 30% failing: {len(rows)} messages, {len(delivered)} delivered, "
            f"{len(rows) - len(delivered)} failed; aliyun failed {world.aliyun.failed} sends "
            f"and carried {share:.0%} of the deliveries; retried sends "
            f"{sum(m.attempts for m in rows) - len(rows)}"
        )


async def test_a_killed_worker_loses_nothing_and_repeats_keep_their_id(
    settings: Settings, season_file: SeasonFile, tmp_path: Path
) -> None:
    n = size(200)
    with sms_world(settings, batch_size=20) as world:
        runtime = Runtime.create(world.settings)
        try:
            season = await open_sample_season(runtime, season_file)
            await queue_messages(runtime, season, n)
            ruxue = str(Path(sys.executable).with_name("ruxue"))
            with (tmp_path / "worker.log").open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    ruxue, "worker", env=environment(world), cwd=tmp_path, stderr=log
                )
            try:
                sent, progressed = 0, time.monotonic()
                while sent < n // 3:  # at the vendors' rate: allow for progress, not a total
                    assert process.returncode is None, (tmp_path / "worker.log").read_text()
                    now, latest = time.monotonic(), sum(world.sends_per_message().values())
                    if latest > sent:
                        sent, progressed = latest, now
                    assert now - progressed < STALL_ALLOWANCE, f"the worker stalled at {sent}"
                    await asyncio.sleep(0.01)
                process.send_signal(signal.SIGKILL)
                await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            killed_at = sum(world.sends_per_message().values())
            stuck = [m for m in await messages(runtime) if m.status is MessageStatus.SENDING]
            await asyncio.sleep(2.5)  # the dead worker's leases run out
            rows = await settle(runtime)
        finally:
            await runtime.close()
        assert_each_sent_once_none_lost(world, [m for m in rows if m.repeats == 0])
        assert all(m.status in SETTLED for m in rows)
        sends = world.sends_per_message()
        repeated = {key for key, count in sends.items() if count > 1}
        assert all(count <= 2 for count in sends.values())
        by_id = {str(m.id): m for m in rows}
        for key in repeated:
            assert by_id[key].repeats >= 1, "only a message left sending is sent again"
            assert len(world.vendors_per_message()[key]) == 1, "a repeat goes to the same vendor"
        delivered = sum(1 for m in rows if m.status is MessageStatus.DELIVERED)
        assert len(sends) == delivered, "every message reached a vendor and was delivered"
        print(
            f"\nsms worker killed after {killed_at} sends with {len(stuck)} messages sending: "
            f"{len(rows)} messages, {delivered} delivered, none lost; "
            f"{len(repeated)} sent twice with the same correlation id (counted at the fakes), "
            f"{sum(m.repeats for m in rows)} re-dispatched after the crash"
        )


def nonconforming(arrivals: Sequence[float], rate: float, tolerance: float) -> int:
    """How many arrivals a GCRA policer (``rate``, ``tolerance`` seconds) would refuse."""
    tat, refused = 0.0, 0
    for at in sorted(arrivals):
        arrival = max(tat, at)
        if arrival - at > tolerance:
            refused += 1
        else:
            tat = arrival + 1.0 / rate
    return refused


async def test_a_burst_keeps_each_vendor_under_its_rate(
    settings: Settings, season_file: SeasonFile
) -> None:
    n = size(200)
    rate = float(os.environ.get("RUXUE_SMS_RATE", "20"))  # below what dispatch sustains here
    rates = {"aliyun": rate, "tencent": rate}
    with sms_world(settings, rates=rates, batch_size=30) as world:
        for fake in world.fakes.values():
            fake.throttle_per_second = rate  # the vendor's own flow control (GCRA + jitter)
            fake.throttle_tolerance = 1.0
        runtime = Runtime.create(world.settings)
        try:
            season = await open_sample_season(runtime, season_file)
            await queue_messages(runtime, season, n)
            seconds = await drain(runtime, workers=2)
            rows = await settle(runtime)
        finally:
            await runtime.close()
        assert_each_sent_once_none_lost(world, rows)
        tight = {}
        for name, fake in world.fakes.items():
            assert fake.throttled == 0, (name, fake.throttled)
            arrivals = sorted(fake.arrivals)
            span = arrivals[-1] - arrivals[0]
            assert len(arrivals) <= rate * (span + fake.throttle_tolerance) + 1, (name, span)
            tight[name] = nonconforming(arrivals, rate, 0.25)
        print(
            f"\nsms burst of {len(rows)}: {len(rows) / seconds:.1f} sends/s against "
            f"{2 * rate:.0f}/s configured; busiest second at aliyun "
            f"{world.aliyun.max_per_window(1.0)}, tencent {world.tencent.max_per_window(1.0)} "
            f"(limit {rate:.0f} each); refused by the fakes' flow control (1 s jitter "
            f"tolerance): 0; arrivals beyond a 0.25 s tolerance: {tight}"
        )
