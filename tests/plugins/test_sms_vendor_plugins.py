"""The Alibaba Cloud and Tencent Cloud notifiers on their official SDKs, against the sandbox's
fake vendors over loopback HTTP: the contract, signatures as the SDKs send them (a wrong
secret refused), code mapping, correlation ids and receipt parsing."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from types import ModuleType

import pytest

import ruxue_notifier_aliyun.plugin
import ruxue_notifier_tencent.plugin
from ruxue_core.domain.enums import MessageStatus
from ruxue_core.errors import ConfigurationError, TemporaryPluginError
from ruxue_core.plugins.contracts import Notifier, SmsRequest
from ruxue_core.settings import Settings
from ruxue_core.testing import NotifierContract
from ruxue_notifier_aliyun import AliyunNotifier
from ruxue_notifier_aliyun.notifier import result_status as aliyun_status
from ruxue_notifier_tencent import TencentNotifier
from ruxue_notifier_tencent.notifier import result_status as tencent_status
from ruxue_sandbox import serve_in_thread
from ruxue_sandbox.sms import SmsVendorFake, create_aliyun_sms_app, create_tencent_sms_app

ALIYUN_KEY, ALIYUN_SECRET = "LTAI-sandbox", "aliyun-sandbox-secret"
TENCENT_ID, TENCENT_KEY = "AKID-sandbox", "tencent-sandbox-key"
CLOSED_PORT = "127.0.0.1:9"


def sms(message_id: str = "101", template: str = "RX_APPROVED") -> SmsRequest:
    return SmsRequest(
        message_id=message_id,
        phone="13900001111",
        template=template,
        params={"child": "张*明", "receipt_no": "42070420261130000000101"},
        text="【入学一件事】张*明的入学报名（办件编号42070420261130000000101）已审核通过。",
    )


def aliyun_settings(endpoint: str, secret: str = ALIYUN_SECRET) -> Settings:
    return Settings(
        plugin_timeout_seconds=3.0,
        plugin_options={
            "aliyun": {
                "access_key_id": ALIYUN_KEY,
                "access_key_secret": secret,
                "sign_name": "临空经济区教育",
                "templates": {"RX_APPROVED": "SMS_300000003"},
                "endpoint": endpoint,
                "protocol": "http",
            }
        },
    )


def tencent_settings(endpoint: str, secret: str = TENCENT_KEY) -> Settings:
    return Settings(
        plugin_timeout_seconds=3.0,
        plugin_options={
            "tencent": {
                "secret_id": TENCENT_ID,
                "secret_key": secret,
                "sdk_app_id": "1400000001",
                "sign_name": "临空经济区教育",
                "templates": {"RX_APPROVED": {"id": "2000003", "params": ["child", "receipt_no"]}},
                "endpoint": endpoint,
                "protocol": "http",
            }
        },
    )


@pytest.fixture(scope="module")
def aliyun_fake() -> Iterator[tuple[SmsVendorFake, str]]:
    fake = SmsVendorFake(credentials={ALIYUN_KEY: ALIYUN_SECRET})
    with serve_in_thread(create_aliyun_sms_app(fake)) as url:
        yield fake, url.removeprefix("http://")


@pytest.fixture(scope="module")
def tencent_fake() -> Iterator[tuple[SmsVendorFake, str]]:
    fake = SmsVendorFake(credentials={TENCENT_ID: TENCENT_KEY})
    with serve_in_thread(create_tencent_sms_app(fake)) as url:
        yield fake, url.removeprefix("http://")


ALIYUN_RECEIPTS = json.dumps(
    [
        {
            "phone_number": "13900001111",
            "send_time": "2026-11-30 10:00:00",
            "report_time": "2026-11-30 10:00:05",
            "success": True,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "sms_size": "1",
            "biz_id": "900^1",
            "out_id": "101",
        },
        {
            "phone_number": "13900002222",
            "send_time": "2026-11-30 10:00:00",
            "report_time": "2026-11-30 10:00:05",
            "success": False,
            "err_code": "MK:0001",
            "err_msg": "用户停机",
            "sms_size": "1",
            "biz_id": "900^2",
            "out_id": "102",
        },
    ],
    ensure_ascii=False,
).encode()

TENCENT_RECEIPTS = json.dumps(
    [
        {
            "user_receive_time": "2026-11-30 10:00:05",
            "nationcode": "86",
            "mobile": "13900001111",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "description": "用户短信送达成功",
            "sid": "2645:1",
        },
        {
            "user_receive_time": "2026-11-30 10:00:05",
            "nationcode": "86",
            "mobile": "13900002222",
            "report_status": "FAIL",
            "errmsg": "MK:0001",
            "description": "用户停机",
            "sid": "2645:2",
        },
    ],
    ensure_ascii=False,
).encode()

RECEIPT_STATUSES = [MessageStatus.DELIVERED, MessageStatus.PERMANENT_FAILURE]


class TestAliyunNotifier(NotifierContract):
    """The shipped notifier contract, against the fake Alibaba Cloud endpoint."""

    @pytest.fixture
    def plugin_settings(self, aliyun_fake: tuple[SmsVendorFake, str]) -> Settings:
        return aliyun_settings(aliyun_fake[1])

    @pytest.fixture
    async def notifier(self, plugin_settings: Settings) -> AsyncIterator[Notifier]:
        built = AliyunNotifier.from_settings(plugin_settings)
        yield built
        await built.aclose()

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return ruxue_notifier_aliyun.plugin

    @pytest.fixture
    def sms_request(self) -> SmsRequest:
        return sms()

    @pytest.fixture
    def receipt_body(self) -> bytes:
        return ALIYUN_RECEIPTS

    @pytest.fixture
    def expected_receipt_statuses(self) -> list[MessageStatus]:
        return RECEIPT_STATUSES

    @pytest.fixture
    def unavailable_notifier(self) -> Notifier | None:
        return AliyunNotifier.from_settings(aliyun_settings(CLOSED_PORT))

    @pytest.fixture
    def misconfigured_notifier(self, aliyun_fake: tuple[SmsVendorFake, str]) -> Notifier | None:
        return AliyunNotifier.from_settings(aliyun_settings(aliyun_fake[1], secret="wrong"))


class TestTencentNotifier(NotifierContract):
    """The shipped notifier contract, against the fake Tencent Cloud endpoint."""

    @pytest.fixture
    def plugin_settings(self, tencent_fake: tuple[SmsVendorFake, str]) -> Settings:
        return tencent_settings(tencent_fake[1])

    @pytest.fixture
    async def notifier(self, plugin_settings: Settings) -> AsyncIterator[Notifier]:
        built = TencentNotifier.from_settings(plugin_settings)
        yield built
        await built.aclose()

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return ruxue_notifier_tencent.plugin

    @pytest.fixture
    def sms_request(self) -> SmsRequest:
        return sms()

    @pytest.fixture
    def receipt_body(self) -> bytes:
        return TENCENT_RECEIPTS

    @pytest.fixture
    def expected_receipt_statuses(self) -> list[MessageStatus]:
        return RECEIPT_STATUSES

    @pytest.fixture
    def unavailable_notifier(self) -> Notifier | None:
        return TencentNotifier.from_settings(tencent_settings(CLOSED_PORT))

    @pytest.fixture
    def misconfigured_notifier(self, tencent_fake: tuple[SmsVendorFake, str]) -> Notifier | None:
        return TencentNotifier.from_settings(tencent_settings(tencent_fake[1], secret="wrong"))


async def test_the_sdks_requests_pass_the_signature_check_and_a_wrong_secret_is_refused(
    aliyun_fake: tuple[SmsVendorFake, str], tencent_fake: tuple[SmsVendorFake, str]
) -> None:
    for (fake, endpoint), build in (
        (aliyun_fake, lambda e, s: AliyunNotifier.from_settings(aliyun_settings(e, s))),
        (tencent_fake, lambda e, s: TencentNotifier.from_settings(tencent_settings(e, s))),
    ):
        secret = next(iter(fake.credentials.values()))
        fake.reset()
        good: Notifier = build(endpoint, secret)
        bad: Notifier = build(endpoint, secret + "x")
        try:
            receipt = await good.send(sms("555"))
            assert receipt.status is MessageStatus.ACCEPTED
            assert receipt.message_id == "555"
            with pytest.raises(TemporaryPluginError):
                await bad.send(sms("556"))
        finally:
            await good.aclose()
            await bad.aclose()
        assert fake.accepted == {"555": 1}, "the correlation id reached the vendor"
        assert fake.refused_signatures == 1
        assert fake.phones == {"13900001111": 1}


async def test_parameters_reach_each_vendor_in_its_own_shape(
    aliyun_fake: tuple[SmsVendorFake, str], tencent_fake: tuple[SmsVendorFake, str]
) -> None:
    aliyun = AliyunNotifier.from_settings(aliyun_settings(aliyun_fake[1]))
    tencent = TencentNotifier.from_settings(tencent_settings(tencent_fake[1]))
    try:
        await aliyun.send(sms("700"))
        await tencent.send(sms("701"))
    finally:
        await aliyun.aclose()
        await tencent.aclose()
    sent = aliyun_fake[0].last
    assert (sent["TemplateCode"], sent["SignName"], sent["OutId"]) == (
        "SMS_300000003",
        "临空经济区教育",
        "700",
    )
    assert json.loads(sent["TemplateParam"]) == {
        "child": "张*明",
        "receipt_no": "42070420261130000000101",
    }
    sent = tencent_fake[0].last
    assert sent["TemplateParamSet"] == ["张*明", "42070420261130000000101"]
    assert (sent["TemplateId"], sent["SessionContext"], sent["PhoneNumberSet"]) == (
        "2000003",
        "701",
        ["+8613900001111"],
    )


async def test_a_failing_or_throttling_vendor_is_temporary(
    aliyun_fake: tuple[SmsVendorFake, str], tencent_fake: tuple[SmsVendorFake, str]
) -> None:
    aliyun = AliyunNotifier.from_settings(aliyun_settings(aliyun_fake[1]))
    tencent = TencentNotifier.from_settings(tencent_settings(tencent_fake[1]))
    try:
        for fake in (aliyun_fake[0], tencent_fake[0]):
            fake.fail_fraction = 1.0
        aliyun_receipt = await aliyun.send(sms("801"))
        assert aliyun_receipt.status is MessageStatus.TEMPORARY_FAILURE
        assert aliyun_receipt.vendor_code == "isp.SYSTEM_ERROR"
        with pytest.raises(TemporaryPluginError, match=r"InternalError\.Timeout"):
            await tencent.send(sms("802"))
    finally:
        for fake in (aliyun_fake[0], tencent_fake[0]):
            fake.fail_fraction = 0.0
        await aliyun.aclose()
        await tencent.aclose()


def test_result_codes_map_onto_the_vocabulary() -> None:
    assert aliyun_status("OK") is MessageStatus.ACCEPTED
    assert aliyun_status("isv.BUSINESS_LIMIT_CONTROL") is MessageStatus.TEMPORARY_FAILURE
    assert aliyun_status("isv.MOBILE_NUMBER_ILLEGAL") is MessageStatus.PERMANENT_FAILURE
    assert aliyun_status("isv.SOMETHING_NEW") is MessageStatus.PERMANENT_FAILURE
    assert aliyun_status("isp.SOMETHING_NEW") is MessageStatus.TEMPORARY_FAILURE
    assert tencent_status("Ok") is MessageStatus.ACCEPTED
    assert tencent_status("RequestLimitExceeded") is MessageStatus.TEMPORARY_FAILURE
    assert tencent_status("InternalError.Anything") is MessageStatus.TEMPORARY_FAILURE
    assert tencent_status("FailedOperation.PhoneNumberInBlacklist") is (
        MessageStatus.PERMANENT_FAILURE
    )


def test_receipts_carry_the_correlation_id_where_the_vendor_echoes_it() -> None:
    settings = aliyun_settings("x")
    aliyun = AliyunNotifier.from_settings(settings).parse_receipts(ALIYUN_RECEIPTS)
    assert [(r.message_id, r.vendor_message_id) for r in aliyun] == [
        ("101", "900^1"),
        ("102", "900^2"),
    ]
    assert aliyun[1].detail == "用户停机"
    tencent = TencentNotifier.from_settings(tencent_settings("x")).parse_receipts(TENCENT_RECEIPTS)
    assert [r.vendor_message_id for r in tencent] == ["2645:1", "2645:2"]
    assert all("13900001111" not in str(r) for r in (*aliyun, *tencent))


@pytest.mark.parametrize(
    ("plugin", "options", "named"),
    [
        ("aliyun", {"access_key_id": "x"}, "access_key_secret"),
        ("tencent", {"secret_id": "x", "secret_key": "y"}, "sdk_app_id"),
    ],
)
def test_missing_options_are_named(plugin: str, options: dict[str, str], named: str) -> None:
    settings = Settings(plugin_options={plugin: options})
    build = AliyunNotifier if plugin == "aliyun" else TencentNotifier
    with pytest.raises(ConfigurationError, match=named):
        build.from_settings(settings)


async def test_no_log_line_carries_the_phone_or_parameters(
    aliyun_fake: tuple[SmsVendorFake, str],
    tencent_fake: tuple[SmsVendorFake, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    aliyun = AliyunNotifier.from_settings(aliyun_settings(aliyun_fake[1]))
    tencent = TencentNotifier.from_settings(tencent_settings(tencent_fake[1]))
    try:
        with caplog.at_level(logging.DEBUG):
            await aliyun.send(sms("901"))
            await tencent.send(sms("902"))
    finally:
        await aliyun.aclose()
        await tencent.aclose()
    assert any("POST /?" in r.getMessage() for r in caplog.records), "urllib3 logged the request"
    assert any(r.name == "tencentcloud_sdk_common" for r in caplog.records), "the SDK logged"
    assert "13900001111" not in caplog.text
    assert "42070420261130000000101" not in caplog.text
