"""contrib/notifier-template (a government SMS platform over HTTP) passes the notifier
contract as it stands, against its own fake platform."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from types import ModuleType

import pytest

import ruxue_notifier_govsms.plugin
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.plugins.contracts import Notifier, SmsRequest
from ruxue_core.settings import Settings
from ruxue_core.testing import NotifierContract
from ruxue_notifier_govsms import GovSmsNotifier
from ruxue_notifier_govsms.fake import FakePlatform, create_fake_app
from ruxue_sandbox import serve_in_thread

TOKEN = "govsms-test-token"


@pytest.fixture(scope="module")
def platform() -> Iterator[tuple[FakePlatform, str]]:
    fake = FakePlatform(token=TOKEN)
    with serve_in_thread(create_fake_app(fake)) as url:
        yield fake, url


def govsms_settings(base_url: str, token: str = TOKEN) -> Settings:
    return Settings(
        plugin_options={
            "govsms": {
                "base_url": base_url,
                "token": token,
                "sign_name": "临空经济区教育",
                "templates": {"RX_APPROVED": "T1003"},
            }
        }
    )


class TestGovSmsTemplate(NotifierContract):
    """The shipped notifier contract, unchanged, against the template's fake platform."""

    @pytest.fixture
    def plugin_settings(self, platform: tuple[FakePlatform, str]) -> Settings:
        return govsms_settings(platform[1])

    @pytest.fixture
    async def notifier(self, plugin_settings: Settings) -> AsyncIterator[Notifier]:
        built = GovSmsNotifier.from_settings(plugin_settings)
        yield built
        await built.aclose()

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return ruxue_notifier_govsms.plugin

    @pytest.fixture
    def sms_request(self) -> SmsRequest:
        return SmsRequest(
            message_id="31",
            phone="13900003333",
            template="RX_APPROVED",
            params={"child": "张*明", "receipt_no": "42070420261130000000031"},
            text="【入学一件事】张*明的入学报名（办件编号42070420261130000000031）已审核通过。",
        )

    @pytest.fixture
    def receipt_body(self) -> bytes:
        reports = [
            {"msgId": "m1", "bizId": "31", "status": "DELIVRD"},
            {"msgId": "m2", "bizId": "32", "status": "UNDELIV", "errCode": "MK:0001"},
        ]
        return json.dumps({"reports": reports}).encode()

    @pytest.fixture
    def expected_receipt_statuses(self) -> list[MessageStatus]:
        return [MessageStatus.DELIVERED, MessageStatus.PERMANENT_FAILURE]

    @pytest.fixture
    def unavailable_notifier(self) -> Notifier | None:
        return GovSmsNotifier.from_settings(govsms_settings("http://127.0.0.1:9"))

    @pytest.fixture
    def misconfigured_notifier(self, platform: tuple[FakePlatform, str]) -> Notifier | None:
        return GovSmsNotifier.from_settings(govsms_settings(platform[1], token="wrong"))


async def test_the_correlation_id_reaches_the_platform(platform: tuple[FakePlatform, str]) -> None:
    fake, url = platform
    notifier = GovSmsNotifier.from_settings(govsms_settings(url))
    request = SmsRequest("77", "13900007777", "RX_APPROVED", {"child": "张*明"}, "…")
    try:
        receipt = await notifier.send(request)
        fake.failing = True
        failing = await notifier.send(request)
    finally:
        fake.failing = False
        await notifier.aclose()
    assert receipt.status is MessageStatus.ACCEPTED
    assert fake.accepted["77"] == 1
    assert (failing.status, failing.vendor_code) == (MessageStatus.TEMPORARY_FAILURE, "1002")
