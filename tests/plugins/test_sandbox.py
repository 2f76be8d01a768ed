"""The sandbox department services (signature checks, consent, answers, faults) and the seeded
population with its ground truth."""

from __future__ import annotations

import http.client
import json
import time
import tomllib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from ruxue_core import RequestContext, sign_request
from ruxue_sandbox import (
    KINDS,
    SANDBOX_APP_KEY,
    SANDBOX_SECRET,
    DepartmentRecord,
    DepartmentService,
    Faults,
    create_department_app,
    department_services,
    make_population,
    national_id,
    season_places,
    serve_in_thread,
)

ROOT = Path(__file__).resolve().parents[2]
SEASON = tomllib.loads((ROOT / "contrib/seasons/linkong-2026-primary.toml").read_text("utf-8"))
PERSON = "420704201910010123"
PATH = "/api/v1/hukou/query"
CONTEXT = RequestContext("req-1", "义务教育入学报名资格核验", "guardian-1", "R-1", "consent-1")


def signed(
    body: dict[str, Any],
    *,
    path: str = PATH,
    context: RequestContext = CONTEXT,
    secret: str = SANDBOX_SECRET,
    key: str = SANDBOX_APP_KEY,
    timestamp: int | None = None,
    method: str = "POST",
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    headers = sign_request(
        app_key=key,
        secret=secret,
        method=method,
        path=path,
        body=raw,
        context=context,
        timestamp=timestamp,
    )
    return raw, headers


@pytest.fixture
def service() -> DepartmentService:
    service = DepartmentService("gongan", seed=1)
    service.add(
        [
            DepartmentRecord(
                "hukou",
                PERSON,
                "王小明",
                {"hukou_address": "燕矶镇新街1号", "township_code": "420704101"},
                relations={"G1": "mother"},
            ),
            DepartmentRecord("property", PERSON, "王小明", {}),  # not this department's
        ]
    )
    return service


@pytest.fixture
async def client(service: DepartmentService) -> Any:
    transport = httpx.ASGITransport(app=create_department_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


async def post(client: httpx.AsyncClient, body: dict[str, Any], **options: Any) -> httpx.Response:
    raw, headers = signed(body, **options)
    path, method = options.get("path", PATH), options.get("method", "POST")
    response: httpx.Response = await client.request(method, path, content=raw, headers=headers)
    return response


async def test_a_signed_query_is_answered_with_the_records_facts(
    client: httpx.AsyncClient, service: DepartmentService
) -> None:
    response = await post(
        client, {"id_number": PERSON, "name": "王小明", "guardian_id_number": "G1"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["result"] == "found"
    assert answer["request_id"] == "req-1"
    assert answer["facts"]["relationship"] == "mother"
    assert service.queries[0].context == CONTEXT
    assert len(service) == 1, "only its own sources' records"


async def test_answers_for_unknown_and_wrong_names(client: httpx.AsyncClient) -> None:
    unknown = await post(client, {"id_number": "110101201901010000", "name": "赵五"})
    assert unknown.json()["result"] == "not_found"
    wrong = (await post(client, {"id_number": PERSON, "name": "李四"})).json()
    assert (wrong["result"], wrong["facts"], wrong["record_id"]) == ("name_mismatch", {}, None)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"secret": "guessed"}, "signature"),
        ({"key": "someone"}, "unknown_key"),
        ({"timestamp": int(time.time()) - 3600}, "stale"),
        ({"timestamp": int(time.time()) + 3600}, "stale"),
    ],
)
async def test_bad_signatures_are_refused(
    client: httpx.AsyncClient, options: dict[str, Any], code: str
) -> None:
    response = await post(client, {"id_number": PERSON, "name": "王小明"}, **options)
    assert response.status_code == 401
    assert response.json()["error"] == code


async def test_a_reused_nonce_and_a_changed_body_are_refused(client: httpx.AsyncClient) -> None:
    raw, headers = signed({"id_number": PERSON, "name": "王小明"})
    assert (await client.post(PATH, content=raw, headers=headers)).status_code == 200
    again = await client.post(PATH, content=raw, headers=headers)
    assert again.json()["error"] == "replay"
    raw, headers = signed({"id_number": PERSON, "name": "王小明"})
    tampered = await client.post(PATH, content=raw.replace(b"0123", b"0124"), headers=headers)
    assert tampered.json()["error"] == "body_hash"
    headers["X-Road-Issue"] = "another-case"  # the context is signed too
    swapped = await client.post(PATH, content=raw, headers=headers)
    assert swapped.json()["error"] == "body_hash"


async def test_a_query_without_consent_is_refused(client: httpx.AsyncClient) -> None:
    context = RequestContext("req-2", "义务教育入学报名资格核验")
    response = await post(client, {"id_number": PERSON, "name": "王小明"}, context=context)
    assert (response.status_code, response.json()["error"]) == (403, "consent_required")


async def test_other_departments_sources_are_not_served(client: httpx.AsyncClient) -> None:
    path = "/api/v1/property/query"
    response = await post(client, {"id_number": PERSON, "name": "王小明"}, path=path)
    assert response.status_code == 404


async def test_outage_errors_and_malformed_answers(
    client: httpx.AsyncClient, service: DepartmentService
) -> None:
    body = {"id_number": PERSON, "name": "王小明"}
    service.faults.outage = True
    assert (await post(client, body)).status_code == 503
    service.faults = Faults(malformed_rate=1.0)
    malformed = await post(client, body)
    with pytest.raises(ValueError):
        malformed.json()
    service.faults = Faults(error_rate=0.5)
    statuses = Counter([(await post(client, body)).status_code for _ in range(200)])
    assert 60 < statuses[503] < 140 and statuses[200] == 200 - statuses[503]


async def test_latency_and_timeouts_delay_answers(
    client: httpx.AsyncClient, service: DepartmentService
) -> None:
    service.faults = Faults(latency=0.1, timeout_rate=1.0, hang_seconds=0.2)
    started = time.monotonic()
    assert (await post(client, {"id_number": PERSON, "name": "王小明"})).status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_faults_are_configured_over_signed_http(
    client: httpx.AsyncClient, service: DepartmentService
) -> None:
    admin = {"path": "/admin/faults", "method": "PUT"}
    response = await post(client, {"error_rate": 0.3, "latency": 0.05}, **admin)
    assert response.json()["error_rate"] == 0.3
    assert service.faults.latency == 0.05
    bad = await post(client, {"error_rate": 2}, **admin)
    assert bad.status_code == 400
    unsigned = await client.put("/admin/faults", json={"outage": True})
    assert unsigned.status_code == 401 and not service.faults.outage


def test_fault_settings_are_validated() -> None:
    faults = Faults()
    for bad in ({"latency": -1}, {"error_rate": 1.5}, {"outage": 1}, {"nonsense": 1}):
        with pytest.raises(ValueError):
            faults.update(bad)


# -- the population -------------------------------------------------------------------------------


def test_national_ids_are_valid() -> None:
    number = national_id("420704", date(2019, 9, 1), 7, male=True)
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(number[:17], weights, strict=True)) % 11]
    assert number[17] == check and int(number[16]) % 2 == 1


def test_the_population_is_seeded_and_consistent_across_departments() -> None:
    places, materials = season_places(SEASON)
    first = make_population(700, seed=3, places=places, materials=materials)
    again = make_population(700, seed=3, places=places, materials=materials)
    assert first.families == again.families
    assert {f.kind for f in first.families} == set(KINDS)
    ids = [f.child_id for f in first.families] + [f.guardian_id for f in first.families]
    assert len(set(ids)) == len(ids), "ID numbers are unique"
    services = department_services(first, seed=3)
    for family in first.families:
        child = services["gongan"].get("hukou", family.child_id)
        home = services["ziranziyuan"].get("property", family.guardian_id)
        if family.kind == "missing":
            assert child is None and home is None
            continue
        assert child is not None and child.name == family.child_name
        if family.kind == "local_owner":
            assert home is not None
            assert home.facts["property_address"] == child.facts["hukou_address"] == family.address
        if family.kind == "migrant":
            assert services["renshe"].get("social_insurance", family.guardian_id) is not None
            assert child.facts["township_code"] not in {p.township_code for p in places}


def test_ground_truth_per_kind_and_with_a_department_down() -> None:
    places, materials = season_places(SEASON)
    population = make_population(300, seed=5, places=places, materials=materials)
    by_kind = {f.kind: f for f in population.families}
    truth = {kind: population.truth(f) for kind, f in by_kind.items()}
    assert truth["local_owner"].category == "A"
    assert truth["owner_no_hukou"].category == "B"
    assert truth["hukou_no_property"].category == "C"
    assert truth["migrant"].category == "D"
    assert truth["migrant"].school == by_kind["migrant"].place.school
    assert truth["wrong_relationship"].corrections == ("relationship",)
    assert truth["ambiguous"].materials[0] == "hukou_book"
    assert set(truth["missing"].materials) >= {"hukou_book", "property_certificate"}
    down = population.truth(by_kind["migrant"], frozenset({"social_insurance"}))
    assert (down.decision, down.materials) == ("manual_review", ("insurance_record",))
    assert population.truth(by_kind["local_owner"], frozenset({"social_insurance"})).category == "A"
    with pytest.raises(ValueError):
        population.truth(by_kind["local_owner"], frozenset({"hukou"}))


# -- serving over real HTTP -----------------------------------------------------------------------


def test_serve_in_thread(service: DepartmentService) -> None:
    with serve_in_thread(create_department_app(service)) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base_url}/healthz").json()["department"] == "gongan"
        raw, headers = signed({"id_number": PERSON, "name": "王小明"})
        answered = httpx.post(f"{base_url}{PATH}", content=raw, headers=headers)
        assert answered.json()["result"] == "found"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/healthz")


def test_the_services_run_as_one_process_on_loopback(tmp_path: Path) -> None:
    """``python -m ruxue_sandbox`` serves the three departments and writes the truth."""
    import subprocess
    import sys

    truth = tmp_path / "truth.json"
    season = ROOT / "contrib/seasons/linkong-2026-primary.toml"
    command = [sys.executable, "-m", "ruxue_sandbox", "--season", str(season)]
    command += ["--families", "20", "--port", "0", "--truth", str(truth)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(3)]
            urls = dict(line.split(": ", 1) for line in lines)
            assert set(urls) == {"gongan", "ziranziyuan", "renshe"}
            for name, url in urls.items():
                assert httpx.get(f"{url}/healthz").json()["department"] == name
            assert len(json.loads(truth.read_text(encoding="utf-8"))) == 20
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_an_idle_connection_outlives_the_clients_keep_alive() -> None:
    """A connection left idle longer than httpx keeps one (5 s) still answers: the server never
    closes a connection a client may be about to reuse."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("ok"))])
    with serve_in_thread(app) as url:
        host, port = url.removeprefix("http://").split(":")
        # http.client reads each whole response and sends the next request on the same socket;
        # a connection the server closed meanwhile raises RemoteDisconnected.
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", "/")
            first = conn.getresponse()
            assert (first.status, first.read()) == (200, b"ok")
            socket_before = conn.sock
            time.sleep((httpx.Limits().keepalive_expiry or 5.0) + 1.0)
            conn.request("GET", "/")
            second = conn.getresponse()
            assert (second.status, second.read()) == (200, b"ok")
            assert conn.sock is socket_before
        finally:
            conn.close()
