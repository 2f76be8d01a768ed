"""The change feed's cursor over the audit log: changes committed out of id order on
PostgreSQL (ids are handed out before commit) are still delivered, once."""

from __future__ import annotations

import asyncio

import pytest

from ruxue_core.changefeed import StatusChange
from ruxue_core.domain import AuditEvent
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, SubscriptionSettings
from ruxue_core.uow import table_of


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The background poll sleeps: the test polls by hand."""
    return settings.model_copy(update={"subscriptions": SubscriptionSettings(poll_seconds=60)})


def entry(version: int, source: str, target: str) -> dict[str, object]:
    return {
        "actor": "t",
        "role": "system",
        "action": f"application.step{version}",
        "entity": "application",
        "entity_id": "R-1",
        "data": {"from": source, "to": target, "version": version},
        "leaf_hash": "0" * 64,
    }


def drained(queue: asyncio.Queue[object]) -> list[int]:
    found = []
    while not queue.empty():
        item = queue.get_nowait()
        assert isinstance(item, StatusChange)
        found.append(item.version)
    return found


@pytest.mark.postgres_only
async def test_an_entry_committed_after_a_later_one_is_delivered(runtime: Runtime) -> None:
    if not runtime.db.postgres:
        pytest.skip("SQLite serialises writers: ids become visible in order")
    feed = runtime.changes
    subscription = await feed.subscribe("R-1", "caller")
    insert = table_of(AuditEvent).insert()
    engine = runtime.db.engine
    with engine.connect() as slow:
        slow.execute(insert, entry(1, "draft", "submitted"))  # an id taken, not yet committed
        with engine.begin() as fast:
            fast.execute(insert, entry(2, "submitted", "verifying"))
        await feed.poll()
        assert drained(subscription.queue) == [2]  # type: ignore[arg-type]
        slow.commit()
    await feed.poll()
    assert drained(subscription.queue) == [1]  # type: ignore[arg-type]
    await feed.poll()
    assert drained(subscription.queue) == []  # type: ignore[arg-type]
    subscription.close()
    assert feed.subscribers == 0
