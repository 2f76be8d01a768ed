"""Both fake SMS vendors, the gateway taking their receipts, and settings that send through
the real Alibaba Cloud and Tencent Cloud notifiers: for the SMS acceptance tests and bench.

Sizes come from the environment so the normal suite stays quick (``RUXUE_SMS_N``, default
200) while the acceptance runs use the issue's 10,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from sms_helpers import messages, statuses

from ruxue_core import receipts
from ruxue_core.domain import Message
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, SmsSettings, SmsVendorSettings
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.app import create_app
from ruxue_sandbox import serve_in_thread
from ruxue_sandbox.sms import SmsVendorFake, create_aliyun_sms_app, create_tencent_sms_app

TOKEN = "sms-acceptance-receipt-token"
ALIYUN = ("LTAI-acceptance", "aliyun-acceptance-secret")
TENCENT = ("AKID-acceptance", "tencent-acceptance-key")
TEMPLATES = ("RX_SUBMITTED", "RX_MANUAL", "RX_APPROVED", "RX_CORRECTION", "RX_REJECTED")
SETTLED = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED})


def size(default: int) -> int:
    """How many messages a test sends (``RUXUE_SMS_N`` overrides the default)."""
    return int(os.environ.get("RUXUE_SMS_N", default))


@dataclass
class SmsWorld:
    """The fakes and the settings that reach them."""

    aliyun: SmsVendorFake
    tencent: SmsVendorFake
    settings: Settings

    @property
    def fakes(self) -> dict[str, SmsVendorFake]:
        """The fakes by vendor name."""
        return {"aliyun": self.aliyun, "tencent": self.tencent}

    def sends_per_message(self) -> Counter[str]:
        """Accepted sends per correlation id (message id), across both vendors."""
        return self.aliyun.sends() + self.tencent.sends()

    def vendors_per_message(self) -> dict[str, set[str]]:
        """Which vendors accepted each message id."""
        seen: dict[str, set[str]] = {}
        for name, fake in self.fakes.items():
            for message_id in fake.sends():
                seen.setdefault(message_id, set()).add(name)
        return seen


def plugin_options(aliyun: str, tencent: str) -> dict[str, dict[str, Any]]:
    """Options for both notifiers against fakes at these ``host:port`` endpoints."""
    return {
        "aliyun": {
            "access_key_id": ALIYUN[0],
            "access_key_secret": ALIYUN[1],
            "sign_name": "临空经济区教育",
            "templates": {code: f"SMS_{i + 300000001}" for i, code in enumerate(TEMPLATES)},
            "endpoint": aliyun,
            "protocol": "http",
            "threads": 16,
        },
        "tencent": {
            "secret_id": TENCENT[0],
            "secret_key": TENCENT[1],
            "sdk_app_id": "1400000001",
            "sign_name": "临空经济区教育",
            "templates": {
                code: {"id": str(2000001 + i), "params": ["child", "receipt_no"]}
                for i, code in enumerate(TEMPLATES)
            },
            "endpoint": tencent,
            "protocol": "http",
            "threads": 16,
            "report_wait_seconds": 3.0,
        },
    }


@contextmanager
def sms_world(
    base: Settings,
    *,
    aliyun_fail: float = 0.0,
    tencent_fail: float = 0.0,
    rates: Mapping[str, float] | None = None,
    batch_size: int = 25,
    stall: float = 0.0,
    plugin_timeout: float = 5.0,
) -> Iterator[SmsWorld]:
    """Serve both fakes and a gateway (receipts only) on loopback; yield the world.

    :param stall: the share of sends both fakes accept but answer only after the core's
        ``plugin_timeout`` has run out (a timeout after acceptance).
    """
    late = plugin_timeout + 0.5
    aliyun = SmsVendorFake(
        credentials=dict([ALIYUN]),
        fail_fraction=aliyun_fail,
        seed=1,
        stall_fraction=stall,
        stall_seconds=late,
    )
    tencent = SmsVendorFake(
        credentials=dict([TENCENT]),
        fail_fraction=tencent_fail,
        seed=2,
        stall_fraction=stall,
        stall_seconds=late,
    )
    vendors = {
        name: SmsVendorSettings(rate_per_second=(rates or {}).get(name))
        for name in ("aliyun", "tencent")
    }
    with ExitStack() as stack:
        aliyun_url = stack.enter_context(serve_in_thread(create_aliyun_sms_app(aliyun)))
        tencent_url = stack.enter_context(serve_in_thread(create_tencent_sms_app(tencent)))
        settings = base.model_copy(
            update={
                "notifiers": ["aliyun", "tencent"],
                "plugin_options": plugin_options(
                    aliyun_url.removeprefix("http://"), tencent_url.removeprefix("http://")
                ),
                "sms": SmsSettings(receipt_token=SecretStr(TOKEN), vendors=vendors),
                "worker": base.worker.model_copy(
                    update={"batch_size": batch_size, "backoff_base": 0.05, "backoff_cap": 0.5}
                ),
                "plugin_timeout_seconds": plugin_timeout,
            }
        )
        gateway = stack.enter_context(
            serve_in_thread(create_app(settings, in_process_worker=False))
        )
        aliyun.receipt_url = f"{gateway}/sms/receipts/aliyun/{TOKEN}"
        tencent.receipt_url = f"{gateway}/sms/receipts/tencent/{TOKEN}"
        yield SmsWorld(aliyun, tencent, settings)


def environment(world: SmsWorld) -> dict[str, str]:
    """``RUXUE_*`` variables for a ``ruxue worker`` process in this world."""
    settings = world.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUXUE_")}
    assert settings.database_url is not None
    env.update(
        RUXUE_DATABASE_URL=settings.database_url,
        RUXUE_DATA_DIR=str(settings.data_dir),
        RUXUE_VERIFIERS="[]",
        RUXUE_NOTIFIERS=json.dumps(settings.notifiers),
        RUXUE_PLUGIN_OPTIONS=json.dumps(settings.plugin_options),
        RUXUE_SMS__RECEIPT_TOKEN=TOKEN,
        RUXUE_WORKER__BATCH_SIZE=str(settings.worker.batch_size),
        RUXUE_WORKER__LEASE_SECONDS="2",
        RUXUE_WORKER__HEARTBEAT_SECONDS="0.5",
        RUXUE_WORKER__POLL_INTERVAL="0.05",
        RUXUE_WORKER__BACKOFF_BASE="0.05",
        RUXUE_WORKER__BACKOFF_CAP="0.5",
    )
    return env


async def drain(runtime: Runtime, workers: int = 1) -> float:
    """Run ``workers`` in-process workers until no job is due; return the seconds it took."""
    started = time.perf_counter()
    await asyncio.gather(*(Worker(runtime, HANDLERS).drain() for _ in range(workers)))
    return time.perf_counter() - started


def sweep_receipts(uow: UnitOfWork) -> None:
    """Apply receipts that crossed their message's acceptance; commits."""
    receipts.sweep(uow)
    uow.commit()


async def settle(runtime: Runtime, *, quiet_seconds: float = 60.0) -> list[Message]:
    """Work and wait for receipts until every message is delivered or failed, or until
    nothing has changed for ``quiet_seconds`` (then the unsettled ones fail the test)."""
    last_change, previous = time.monotonic(), None
    while True:
        await drain(runtime)
        await runtime.write(sweep_receipts)  # what the periodic notify.receipts job does
        rows = await messages(runtime)
        if all(m.status in SETTLED for m in rows):
            return rows
        current = statuses(rows)
        if current != previous:
            last_change, previous = time.monotonic(), current
        elif time.monotonic() - last_change > quiet_seconds:
            return rows
        await asyncio.sleep(0.2)
