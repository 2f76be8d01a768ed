"""SMS dispatch throughput through the real Alibaba Cloud and Tencent Cloud notifiers against
the sandbox's fake vendors, and its ratio to the configured vendor rate limits.

After a warm-up, two runs of ``RUXUE_SMS_N`` messages (default 1,000): with no rate limit
(what dispatch itself sustains here: claim, SDK call over loopback HTTP, commit) and with
each vendor limited to ``RUXUE_SMS_RATE`` per second (default 100). Prints messages per
second and the ratio to the sum of the limits (close to 1.0 means the limits, not the
dispatcher, set the pace). On a small machine the paced run can be the faster one: unpaced,
every claimed message calls its SDK at once and the calls contend for the interpreter and
the database. Machines are noisy: compare ratios, never turn a figure into a pass/fail
threshold. Asserts that every message was sent exactly once.
"""

from __future__ import annotations

import os

from conftest import open_sample_season
from sms_helpers import messages, queue_messages
from sms_world import drain, size, sms_world

from ruxue_core.domain.enums import MessageStatus
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings


async def run(settings: Settings, season_file: SeasonFile, rate: float | None, count: int) -> float:
    """Messages per second for one drain of ``count`` messages."""
    rates = {"aliyun": rate, "tencent": rate} if rate else None
    with sms_world(settings, rates=rates, batch_size=40) as world:
        runtime = Runtime.create(world.settings)
        try:
            season = await open_sample_season(runtime, season_file)
            earlier = {m.id for m in await messages(runtime)}  # the runs share one database
            await queue_messages(runtime, season, count)
            seconds = await drain(runtime, workers=2)
            rows = [m for m in await messages(runtime) if m.id not in earlier]
        finally:
            await runtime.close()
        assert all(m.status in {MessageStatus.ACCEPTED, MessageStatus.DELIVERED} for m in rows)
        sends = world.sends_per_message()
        assert set(sends.values()) == {1}
        assert len(sends) == len(rows)
        return len(rows) / seconds


async def test_dispatch_throughput_against_rate_limits(
    settings: Settings, season_file: SeasonFile
) -> None:
    rate = float(os.environ.get("RUXUE_SMS_RATE", "100"))
    await run(settings, season_file, None, 100)  # warm up: imports, SDK clients, threads
    unlimited = await run(settings, season_file, None, size(1000))
    limited = await run(settings, season_file, rate, size(1000))
    print(
        f"\nsms dispatch, {size(1000)} messages, two vendors: unlimited {unlimited:.0f} msg/s; "
        f"limited to {rate:.0f}/s each: {limited:.0f} msg/s = {limited / (2 * rate):.2f} of the "
        f"configured {2 * rate:.0f}/s; unlimited/configured {unlimited / (2 * rate):.2f}"
    )
