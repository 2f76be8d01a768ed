"""The fake SMS vendors' signature checks against the vendors' published test vectors, and
their fault injection and rate measurement."""

from __future__ import annotations

import hashlib

from ruxue_sandbox.sms import SmsVendorFake, acs3_signature, tc3_signature


def test_acs3_matches_alibaba_clouds_published_example() -> None:
    empty = hashlib.sha256(b"").hexdigest()
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-content-sha256": empty,
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-version": "2014-05-26",
    }
    query = [
        ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
        ("RegionId", "cn-shanghai"),
    ]
    signature = acs3_signature(
        "YourAccessKeySecret", "POST", "/", query, headers, sorted(headers), empty
    )
    assert signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    assert acs3_signature("other", "POST", "/", query, headers, sorted(headers), empty) != (
        signature
    )


def test_tc3_matches_tencent_clouds_published_example() -> None:
    payload = (
        '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    payload_hash = hashlib.sha256(payload.encode()).hexdigest()
    assert payload_hash.endswith("f064")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n",
            "content-type;host",
            payload_hash,
        ]
    )
    signature = tc3_signature("Gu5t9xGARNpq86cd98joQYCN3*******", "cvm", 1551113065, canonical)
    assert signature == "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"


def test_rate_is_measured_over_sliding_windows() -> None:
    fake = SmsVendorFake(credentials={})
    fake.arrivals.extend([0.0, 0.1, 0.2, 0.95, 1.05, 1.9, 3.0])
    assert fake.max_per_window(1.0) == 4
    assert fake.max_per_window(0.15) == 2


def test_fails_and_throttles_on_demand() -> None:
    failing = SmsVendorFake(credentials={}, fail_fraction=0.3, seed=7)
    decisions = [failing._decide() for _ in range(2000)]
    assert 0.25 < decisions.count("fail") / len(decisions) < 0.35
    throttled = SmsVendorFake(credentials={}, throttle_per_second=5, throttle_tolerance=0.5)
    decisions = [throttled._decide(100.0) for _ in range(8)]
    # 0.2 s apart: the first is on time, two more fit within half a second of tolerance.
    assert decisions == ["ok"] * 3 + ["throttle"] * 5 == ["ok"] * 3 + ["throttle"] * 5
    assert throttled.throttled == 5
    assert throttled._decide(100.6) == "ok", "the slot came round again"
