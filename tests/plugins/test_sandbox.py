"""The fake 公安 service: authentication, answers, admin loading and fault injection."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from typing import Any

import httpx
import pytest

from ruxue_core.rules.national_id import make_national_id
from ruxue_sandbox import (
    GonganDataset,
    HukouRecord,
    RecordError,
    ResidencePermitRecord,
    create_gongan_app,
    normalise_address,
    record_from_json,
    serve_in_thread,
)

KEY = "test-key"
CHILD = make_national_id("420704", date(2019, 3, 1), 12)
FATHER = make_national_id("420704", date(1988, 6, 1), 13)
MIGRANT = make_national_id("420102", date(1990, 1, 1), 24)
ADDRESS = "鄂州市临空经济区燕矶镇新城村 3 组 12 号"

HUKOU = HukouRecord(
    id_number=CHILD,
    name="王小明",
    address=ADDRESS,
    township_code="420704100",
    move_in_date=date(2020, 5, 1),
    guardians={FATHER: "father"},
    record_id="HK-1",
)
PERMIT = ResidencePermitRecord(
    id_number=MIGRANT,
    name="李红",
    address="鄂州市临空经济区杜山镇杜山村8号",
    township_code="420704101",
    issue_date=date(2023, 3, 1),
    expiry_date=date(2026, 2, 28),
    record_id="JZZ-1",
)


@pytest.fixture
def dataset() -> GonganDataset:
    dataset = GonganDataset(api_key=KEY, as_of=date(2025, 5, 1), seed=7)
    dataset.add(HUKOU, PERMIT)
    return dataset


@pytest.fixture
async def client(dataset: GonganDataset) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_gongan_app(dataset))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gongan.test", headers={"X-Api-Key": KEY}
    ) as client:
        yield client


def _query(id_number: str = CHILD, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": "req-1",
        "id_number": id_number,
        "name": "王小明",
        "claimed_address": ADDRESS,
        "purpose": "义务教育入学报名核验",
    }
    body.update(changes)
    return body


async def _hukou(client: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await client.post("/api/v1/hukou/verify", json=_query(**changes))


# -- authentication ---------------------------------------------------------------------------


async def test_healthz_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Api-Key": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "records": 2}


@pytest.mark.parametrize("headers", [{"X-Api-Key": ""}, {"X-Api-Key": "wrong"}])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/hukou/verify"),
        ("POST", "/api/v1/residence-permit/verify"),
        ("POST", "/admin/records"),
        ("DELETE", "/admin/records"),
        ("PUT", "/admin/faults"),
    ],
)
async def test_every_api_needs_the_key(
    client: httpx.AsyncClient,
    dataset: GonganDataset,
    headers: dict[str, str],
    method: str,
    path: str,
) -> None:
    response = await client.request(method, path, json=[], headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert len(dataset) == 2


# -- hukou answers ----------------------------------------------------------------------------


async def test_hukou_match_ignores_whitespace_and_reports_relationship(
    client: httpx.AsyncClient, dataset: GonganDataset
) -> None:
    response = await _hukou(
        client,
        claimed_address=" 鄂州市临空经济区燕矶镇新城村3组\u300012号 ",
        guardian_id_number=FATHER,
    )
    assert response.status_code == 200
    assert response.json() == {
        "request_id": "req-1",
        "result": "match",
        "record_id": "HK-1",
        "facts": {
            "hukou_address": ADDRESS,
            "township_code": "420704100",
            "move_in_date": "2020-05-01",
            "relationship": "father",
        },
        "reason": None,
        "message": "户籍地址一致",
    }
    [entry] = dataset.queries
    assert (entry.endpoint, entry.request_id, entry.purpose) == (
        "hukou",
        "req-1",
        "义务教育入学报名核验",
    )


async def test_hukou_mismatch_and_unknown_guardian(client: httpx.AsyncClient) -> None:
    body = (await _hukou(client, claimed_address="鄂州市临空经济区燕矶镇新城村4组1号")).json()
    assert body["result"] == "mismatch"
    assert body["reason"] == "address_differs"
    assert body["facts"]["relationship"] is None


async def test_hukou_not_found(client: httpx.AsyncClient) -> None:
    body = (await _hukou(client, id_number=MIGRANT)).json()
    assert body["result"] == "not_found"
    assert body["record_id"] is None
    assert body["facts"] == {}


async def test_wrong_name_reveals_nothing(client: httpx.AsyncClient) -> None:
    body = (await _hukou(client, name="王大明")).json()
    assert body["result"] == "mismatch"
    assert body["reason"] == "name_differs"
    assert body["record_id"] is None
    assert body["facts"] == {}


async def test_ambiguous_record_is_undecidable(
    client: httpx.AsyncClient, dataset: GonganDataset
) -> None:
    dataset.add(replace(HUKOU, ambiguous=True))
    body = (await _hukou(client)).json()
    assert body["result"] == "undecidable"
    assert body["reason"] == "ambiguous"


@pytest.mark.parametrize(
    "body",
    [
        {"request_id": "req-1"},
        {**_query(), "purpose": ""},
        {**_query(), "guardian_id_number": 42},
        [],
    ],
)
async def test_malformed_query_is_400(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post("/api/v1/hukou/verify", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_non_json_query_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/hukou/verify", content=b"{not json")
    assert response.status_code == 400


# -- residence permits --------------------------------------------------------------------------


async def test_residence_permit_match(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/residence-permit/verify",
        json=_query(MIGRANT, name="李红", claimed_address="鄂州市临空经济区杜山镇杜山村8号"),
    )
    body = response.json()
    assert body["result"] == "match"
    assert body["record_id"] == "JZZ-1"
    assert body["facts"] == {
        "permit_address": "鄂州市临空经济区杜山镇杜山村8号",
        "township_code": "420704101",
        "issue_date": "2023-03-01",
        "expiry_date": "2026-02-28",
    }


async def test_expired_residence_permit_is_mismatch(
    client: httpx.AsyncClient, dataset: GonganDataset
) -> None:
    dataset.as_of = date(2026, 3, 1)
    response = await client.post(
        "/api/v1/residence-permit/verify",
        json=_query(MIGRANT, name="李红", claimed_address="鄂州市临空经济区杜山镇杜山村8号"),
    )
    assert response.json()["result"] == "mismatch"
    assert response.json()["reason"] == "expired"


async def test_hukou_and_permit_records_are_separate(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/residence-permit/verify", json=_query())
    assert response.json()["result"] == "not_found"


# -- admin --------------------------------------------------------------------------------------


async def test_admin_load_and_delete(client: httpx.AsyncClient, dataset: GonganDataset) -> None:
    other = make_national_id("420704", date(2019, 9, 9), 31)
    records = [
        replace(HUKOU, id_number=other, name="赵一", record_id="HK-2").as_json(),
        replace(PERMIT, id_number=other, name="赵一", record_id="JZZ-2").as_json(),
    ]
    response = await client.post("/admin/records", json=records)
    assert response.json() == {"loaded": 2}
    assert len(dataset) == 4
    body = (await _hukou(client, id_number=other, name="赵一")).json()
    assert (body["result"], body["record_id"]) == ("match", "HK-2")

    response = await client.delete("/admin/records")
    assert response.json() == {"deleted": 4}
    assert (await _hukou(client)).json()["result"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "hukou"},
        [HUKOU.as_json(), {**HUKOU.as_json(), "move_in_date": "2020-13-01"}],
        [{**HUKOU.as_json(), "kind": "property"}],
        [{**HUKOU.as_json(), "guardians": ["x"]}],
        [{**HUKOU.as_json(), "unavailable": "yes"}],
    ],
)
async def test_admin_load_is_all_or_nothing(
    client: httpx.AsyncClient, dataset: GonganDataset, body: object
) -> None:
    dataset.clear()
    response = await client.post("/admin/records", json=body)
    assert response.status_code == 400
    assert len(dataset) == 0


async def test_admin_faults(client: httpx.AsyncClient, dataset: GonganDataset) -> None:
    response = await client.put("/admin/faults", json={"fail_rate": 1})
    assert response.json() == {"fail_rate": 1.0, "latency": 0.0}
    assert (await _hukou(client)).status_code == 503
    bad = await client.put("/admin/faults", json={"fail_rate": 2})
    assert bad.status_code == 400
    assert dataset.fail_rate == 1.0


def test_records_round_trip_through_json() -> None:
    assert record_from_json(HUKOU.as_json()) == HUKOU
    assert record_from_json(PERMIT.as_json()) == PERMIT
    with pytest.raises(RecordError):
        record_from_json("not a record")


def test_normalise_address() -> None:
    assert normalise_address(" 新城村 3组\u300012号\n") == "新城村3组12号"


# -- fault injection ------------------------------------------------------------------------------


async def test_unavailable_record_is_503(client: httpx.AsyncClient, dataset: GonganDataset) -> None:
    dataset.add(replace(HUKOU, unavailable=True))
    response = await _hukou(client)
    assert response.status_code == 503
    assert response.json()["request_id"] == "req-1"


async def test_fail_rate_fails_some_calls(
    client: httpx.AsyncClient, dataset: GonganDataset
) -> None:
    dataset.configure_faults(fail_rate=0.5)
    statuses = {(await _hukou(client)).status_code for _ in range(40)}
    assert statuses == {200, 503}


def test_fault_settings_are_validated() -> None:
    with pytest.raises(RecordError):
        GonganDataset(fail_rate=1.5)
    with pytest.raises(RecordError):
        GonganDataset(latency=-1)


async def test_latency_delays_answers(client: httpx.AsyncClient, dataset: GonganDataset) -> None:
    dataset.configure_faults(latency=0.2)
    started = time.monotonic()
    assert (await _hukou(client)).status_code == 200
    assert time.monotonic() - started >= 0.2


# -- serving over real HTTP -----------------------------------------------------------------------


def test_serve_in_thread(dataset: GonganDataset) -> None:
    with serve_in_thread(create_gongan_app(dataset)) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.get(f"{base_url}/healthz")
        assert response.json()["status"] == "ok"
        verified = httpx.post(
            f"{base_url}/api/v1/hukou/verify", json=_query(), headers={"X-Api-Key": KEY}
        )
        assert verified.json()["result"] == "match"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/healthz")
