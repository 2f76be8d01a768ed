"""The development notifier: contract, outbox file lines, masking and failover hooks."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest

import ruxue_notifier_devlog.plugin
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.errors import ConfigurationError, PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import Notifier, SmsRequest
from ruxue_core.plugins.host import PluginHost
from ruxue_core.settings import Settings
from ruxue_core.testing import NotifierContract
from ruxue_notifier_devlog import DevlogNotifier, mask_phone
from ruxue_notifier_devlog.notifier import SAMPLE_RECEIPT_BODY

PHONE = "13812341234"


def sms(message_id: str = "msg-1", phone: str = PHONE) -> SmsRequest:
    return SmsRequest(
        message_id=message_id,
        phone=phone,
        template="admitted",
        params={"child": "王小明", "school": "燕矶镇中心小学"},
        text="【临空经济区入学】王小明已被燕矶镇中心小学录取，请按时报到。",
    )


def outbox_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "sms-outbox.jsonl"


@pytest.fixture
def devlog(tmp_path: Path) -> DevlogNotifier:
    return DevlogNotifier.from_settings(
        Settings(data_dir=tmp_path, plugin_options={"devlog": {"fail_phone_prefix": "170"}})
    )


class TestDevlogNotifier(NotifierContract):
    """The shipped notifier contract."""

    @pytest.fixture
    def notifier(self, devlog: DevlogNotifier) -> Notifier:
        return devlog

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return ruxue_notifier_devlog.plugin

    @pytest.fixture
    def plugin_settings(self, tmp_path: Path) -> Settings:
        return Settings(data_dir=tmp_path)

    @pytest.fixture
    def sms_request(self) -> SmsRequest:
        return sms()

    @pytest.fixture
    def receipt_body(self) -> bytes:
        return SAMPLE_RECEIPT_BODY

    @pytest.fixture
    def expected_receipt_statuses(self) -> list[MessageStatus]:
        return [MessageStatus.DELIVERED, MessageStatus.PERMANENT_FAILURE]

    @pytest.fixture
    def unknown_template_request(self) -> SmsRequest | None:
        return None  # the development outbox writes text and knows no vendor templates

    @pytest.fixture
    def unavailable_notifier(self, tmp_path: Path) -> Notifier | None:
        return DevlogNotifier(tmp_path / "outbox.jsonl", fail_phone_prefix=PHONE[:3])


async def test_send_appends_one_masked_json_line(devlog: DevlogNotifier, outbox: Path) -> None:
    receipt = await devlog.send(sms())
    assert devlog.path == outbox
    [line] = outbox_lines(outbox)
    assert line["message_id"] == "msg-1"
    assert line["vendor_message_id"] == receipt.vendor_message_id
    assert line["phone"] == "138****1234"
    assert line["template"] == "admitted"
    assert line["params"] == {"child": "王小明", "school": "燕矶镇中心小学"}
    assert line["text"] == sms().text
    sent_at = datetime.fromisoformat(str(line["sent_at"]))
    assert sent_at.utcoffset() is not None
    assert PHONE not in json.dumps(line, ensure_ascii=False)
    assert receipt.status is MessageStatus.ACCEPTED
    assert receipt.message_id == "msg-1"
    assert str(receipt.vendor_message_id).startswith("devlog-")


async def test_send_logs_without_the_full_phone(
    devlog: DevlogNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ruxue_notifier_devlog"):
        await devlog.send(sms())
    assert "138****1234" in caplog.text
    assert PHONE not in caplog.text


async def test_concurrent_sends_write_whole_lines(devlog: DevlogNotifier, outbox: Path) -> None:
    receipts = await asyncio.gather(*(devlog.send(sms(f"msg-{i}")) for i in range(50)))
    lines = outbox_lines(outbox)
    assert sorted(str(line["message_id"]) for line in lines) == sorted(
        f"msg-{i}" for i in range(50)
    )
    assert len({r.vendor_message_id for r in receipts}) == 50


async def test_fail_phone_prefix_raises_temporary(devlog: DevlogNotifier, outbox: Path) -> None:
    with pytest.raises(TemporaryPluginError):
        await devlog.send(sms(phone="17012345678"))
    assert not await asyncio.to_thread(outbox.exists)


async def test_path_option_overrides_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "sms.jsonl"
    notifier = DevlogNotifier.from_settings(
        Settings(data_dir=tmp_path / "data", plugin_options={"devlog": {"path": str(target)}})
    )
    await notifier.send(sms())
    assert len(outbox_lines(target)) == 1
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("options", [{"path": 3}, {"fail_phone_prefix": 170}])
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        DevlogNotifier.from_settings(Settings(plugin_options={"devlog": options}))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b"[1]",
        b'[{"status": "delivered"}]',
        b'[{"vendor_message_id": "devlog-1", "status": "lost"}]',
    ],
)
def test_malformed_receipts_are_refused(devlog: DevlogNotifier, body: bytes) -> None:
    with pytest.raises(PermanentPluginError):
        devlog.parse_receipts(body)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812341234", "138****1234"), (" 13812341234 ", "138****1234"), ("12345", "*****")],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


async def test_discovered_through_entry_point(tmp_path: Path) -> None:
    host = PluginHost.create(
        Settings(verifiers=["gongan"], notifiers=["devlog"], data_dir=tmp_path)
    )
    try:
        notifier = host.notifier("devlog")
        assert isinstance(notifier, DevlogNotifier)
        assert notifier.path == tmp_path / "sms-outbox.jsonl"
    finally:
        await host.aclose()
