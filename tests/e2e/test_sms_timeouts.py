"""A vendor call that timed out may have been accepted: the core asks that vendor by the
message's correlation id (Alibaba Cloud ``QuerySendDetails``, Tencent Cloud
``PullSmsSendStatusByPhoneNumber``) before failing over, so a timeout after acceptance never
makes a second SMS. Through both real notifiers against the sandbox's fakes, which accept a
share of sends and answer them only after the core's timeout."""

from __future__ import annotations

import pytest
from conftest import open_sample_season
from sms_helpers import queue_messages, statuses
from sms_world import settle, sms_world

from ruxue_core.domain.enums import MessageStatus
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings

pytestmark = pytest.mark.slow


async def test_a_timeout_after_acceptance_never_sends_twice(
    settings: Settings, season_file: SeasonFile
) -> None:
    n = 30
    with sms_world(settings, stall=0.3, plugin_timeout=0.6) as world:
        runtime = Runtime.create(world.settings)
        try:
            season = await open_sample_season(runtime, season_file)
            await queue_messages(runtime, season, n)
            rows = await settle(runtime, quiet_seconds=30.0)
        finally:
            await runtime.close()
    stalled = world.aliyun.stalled + world.tencent.stalled
    sends = world.sends_per_message()
    assert stalled > 0, "no send timed out after acceptance: the test proved nothing"
    assert world.aliyun.queries + world.tencent.queries >= stalled
    assert statuses(rows) == {MessageStatus.DELIVERED: len(rows)}, statuses(rows)
    assert all(count == 1 for count in sends.values()), sends
    assert len(sends) == len(rows)
    assert all(len(v) == 1 for v in world.vendors_per_message().values())
    print(
        f"\nsms timeouts after acceptance: {stalled} of {len(rows)} sends answered late; "
        f"{world.aliyun.queries + world.tencent.queries} status queries; "
        f"every message delivered, none sent twice"
    )
