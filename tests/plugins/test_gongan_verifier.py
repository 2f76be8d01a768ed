"""The 公安 verifier plugin, run over real HTTP against the sandbox service."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import ruxue_verifier_gongan.plugin
from ruxue_core.domain.enums import Outcome
from ruxue_core.errors import ConfigurationError, PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import VerificationRequest, Verifier
from ruxue_core.plugins.host import PluginHost
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.settings import Settings
from ruxue_core.testing import VerifierContract
from ruxue_sandbox import (
    GonganDataset,
    HukouRecord,
    ResidencePermitRecord,
    create_gongan_app,
    serve_in_thread,
)
from ruxue_verifier_gongan import GonganVerifier

KEY = "gongan-test-key"
ADDRESS = "鄂州市临空经济区燕矶镇新城村3组12号"
PERMIT_ADDRESS = "鄂州市临空经济区杜山镇杜山村8号"
CHILD = make_national_id("420704", date(2019, 3, 1), 12)
FATHER = make_national_id("420704", date(1988, 6, 1), 13)
COLLECTIVE = make_national_id("420704", date(2019, 4, 2), 22)
DOWN = make_national_id("420704", date(2019, 5, 3), 32)
MIGRANT = make_national_id("420102", date(1990, 1, 1), 24)
UNKNOWN = make_national_id("110101", date(2019, 1, 1), 42)


@pytest.fixture(scope="module")
def dataset() -> GonganDataset:
    dataset = GonganDataset(api_key=KEY, as_of=date(2025, 5, 1))
    child = HukouRecord(
        id_number=CHILD,
        name="王小明",
        address=ADDRESS,
        township_code="420704100",
        move_in_date=date(2020, 5, 1),
        guardians={FATHER: "father"},
        record_id="HK-CHILD",
    )
    dataset.add(
        child,
        replace(child, id_number=COLLECTIVE, ambiguous=True, record_id="HK-COLL"),
        replace(child, id_number=DOWN, unavailable=True, record_id="HK-DOWN"),
        ResidencePermitRecord(
            id_number=MIGRANT,
            name="王小明",
            address=PERMIT_ADDRESS,
            township_code="420704101",
            issue_date=date(2023, 3, 1),
            expiry_date=date(2026, 2, 28),
            record_id="JZZ-1",
        ),
    )
    return dataset


@pytest.fixture(scope="module")
def sandbox_url(dataset: GonganDataset) -> Iterator[str]:
    with serve_in_thread(create_gongan_app(dataset)) as base_url:
        yield base_url


@pytest.fixture
async def gongan(sandbox_url: str) -> AsyncIterator[GonganVerifier]:
    verifier = GonganVerifier(base_url=sandbox_url, api_key=KEY, timeout=2.0)
    yield verifier
    await verifier.aclose()


def hukou_request(
    id_number: str = CHILD,
    address: str = ADDRESS,
    *,
    source: str = "hukou",
    guardian: str | None = None,
) -> VerificationRequest:
    return VerificationRequest(
        source=source,
        subject="child",
        id_number=id_number,
        name="王小明",
        claimed_address=address,
        purpose="义务教育入学报名核验",
        request_id=f"req-{source}-{id_number[-6:]}",
        guardian_id_number=guardian,
    )


class TestGonganVerifier(VerifierContract):
    """The shipped verifier contract, against the sandbox over HTTP."""

    @pytest.fixture
    async def verifier(self, gongan: GonganVerifier) -> Verifier:
        return gongan

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return ruxue_verifier_gongan.plugin

    @pytest.fixture
    def plugin_settings(self, tmp_path: Path) -> Settings:
        return Settings(data_dir=tmp_path)

    @pytest.fixture
    def matching_request(self) -> VerificationRequest:
        return hukou_request(guardian=FATHER)

    @pytest.fixture
    def mismatching_request(self) -> VerificationRequest:
        return hukou_request(address="鄂州市临空经济区燕矶镇新城村4组1号", guardian=FATHER)

    @pytest.fixture
    def unknown_request(self) -> VerificationRequest:
        return hukou_request(UNKNOWN)

    @pytest.fixture
    def unavailable_request(self) -> VerificationRequest:
        return hukou_request(DOWN)


# -- mapping ------------------------------------------------------------------------------------


async def test_match_returns_minimal_facts_and_evidence(
    gongan: GonganVerifier, dataset: GonganDataset
) -> None:
    request = hukou_request(guardian=FATHER)
    result = await gongan.verify(request)
    assert result.outcome is Outcome.MATCH
    assert dict(result.facts) == {
        "address": ADDRESS,
        "township_code": "420704100",
        "move_in_date": date(2020, 5, 1),
        "relationship": "father",
    }
    assert result.evidence.source_record_id == "HK-CHILD"
    assert result.evidence.request_id == request.request_id
    assert dataset.queries[-1].purpose == "义务教育入学报名核验"


async def test_unknown_guardian_leaves_relationship_out(gongan: GonganVerifier) -> None:
    result = await gongan.verify(hukou_request())
    assert result.outcome is Outcome.MATCH
    assert "relationship" not in result.facts


async def test_collective_household_needs_manual_review(gongan: GonganVerifier) -> None:
    result = await gongan.verify(hukou_request(COLLECTIVE))
    assert result.outcome is Outcome.NEEDS_MANUAL_REVIEW
    assert result.reason


async def test_residence_permit(gongan: GonganVerifier) -> None:
    request = hukou_request(MIGRANT, PERMIT_ADDRESS, source="residence_permit")
    result = await gongan.verify(request)
    assert result.outcome is Outcome.MATCH
    assert dict(result.facts) == {
        "address": PERMIT_ADDRESS,
        "township_code": "420704101",
        "issue_date": date(2023, 3, 1),
        "expiry_date": date(2026, 2, 28),
    }
    assert result.evidence.source_record_id == "JZZ-1"


async def test_unsupported_source_is_permanent(gongan: GonganVerifier) -> None:
    with pytest.raises(PermanentPluginError):
        await gongan.verify(hukou_request(source="property"))


# -- faults -------------------------------------------------------------------------------------


async def test_unavailable_record_is_temporary(gongan: GonganVerifier) -> None:
    with pytest.raises(TemporaryPluginError, match="503"):
        await gongan.verify(hukou_request(DOWN))


async def test_outage_is_temporary(gongan: GonganVerifier, dataset: GonganDataset) -> None:
    dataset.configure_faults(fail_rate=1.0)
    try:
        with pytest.raises(TemporaryPluginError):
            await gongan.verify(hukou_request())
    finally:
        dataset.configure_faults(fail_rate=0.0)


async def test_timeout_is_temporary(sandbox_url: str, dataset: GonganDataset) -> None:
    dataset.configure_faults(latency=0.5)
    verifier = GonganVerifier(base_url=sandbox_url, api_key=KEY, timeout=0.05)
    try:
        with pytest.raises(TemporaryPluginError):
            await verifier.verify(hukou_request())
    finally:
        dataset.configure_faults(latency=0.0)
        await verifier.aclose()


async def test_connection_refused_is_temporary() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = GonganVerifier(base_url=f"http://127.0.0.1:{port}", api_key=KEY, timeout=1.0)
    try:
        with pytest.raises(TemporaryPluginError):
            await verifier.verify(hukou_request())
    finally:
        await verifier.aclose()


async def test_wrong_api_key_is_permanent(sandbox_url: str) -> None:
    verifier = GonganVerifier(base_url=sandbox_url, api_key="wrong", timeout=2.0)
    try:
        with pytest.raises(PermanentPluginError, match="401"):
            await verifier.verify(hukou_request())
    finally:
        await verifier.aclose()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, TemporaryPluginError),
        (500, TemporaryPluginError),
        (502, TemporaryPluginError),
        (400, PermanentPluginError),
        (403, PermanentPluginError),
        (404, PermanentPluginError),
    ],
)
async def test_http_status_mapping(status: int, error: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json={}))
    verifier = GonganVerifier(base_url="http://gongan.test", transport=transport)
    with pytest.raises(error):
        await verifier.verify(hukou_request())
    await verifier.aclose()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"request_id": "req-hukou-%s", "result": "maybe"}',
        b'{"request_id": "someone-else", "result": "match"}',
        b'{"request_id": "req-hukou-%s", "result": "match", "facts": {"move_in_date": "soon"}}',
        b'{"request_id": "req-hukou-%s", "result": "match", "facts": []}',
        b'{"request_id": "req-hukou-%s", "result": "match", "record_id": 7}',
    ],
)
async def test_malformed_answer_is_permanent(body: bytes) -> None:
    content = body.replace(b"%s", CHILD[-6:].encode())
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=content))
    verifier = GonganVerifier(base_url="http://gongan.test", transport=transport)
    with pytest.raises(PermanentPluginError):
        await verifier.verify(hukou_request())
    await verifier.aclose()


async def test_extra_fields_are_dropped() -> None:
    request = hukou_request()
    answer = {
        "request_id": request.request_id,
        "result": "match",
        "record_id": "HK-9",
        "facts": {"hukou_address": ADDRESS, "id_number": CHILD, "household_members": "…"},
    }
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=answer))
    verifier = GonganVerifier(base_url="http://gongan.test", transport=transport)
    result = await verifier.verify(request)
    assert dict(result.facts) == {"address": ADDRESS}
    await verifier.aclose()


# -- configuration and discovery ----------------------------------------------------------------


def test_options_from_settings(tmp_path: Path) -> None:
    default = GonganVerifier.from_settings(Settings(data_dir=tmp_path))
    assert (default.base_url, default.timeout) == ("http://127.0.0.1:8701", 5.0)
    options = {"gongan": {"base_url": "https://gongan.example/", "api_key": "k", "timeout": 3}}
    configured = GonganVerifier.from_settings(Settings(plugin_options=options))
    assert (configured.base_url, configured.timeout) == ("https://gongan.example", 3.0)


@pytest.mark.parametrize(
    "options", [{"base_url": "ftp://x"}, {"api_key": ""}, {"timeout": 0}, {"timeout": "5"}]
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        GonganVerifier.from_settings(Settings(plugin_options={"gongan": options}))


async def test_discovered_through_entry_point(sandbox_url: str, tmp_path: Path) -> None:
    settings = Settings(
        verifiers=["gongan"],
        notifiers=["devlog"],
        data_dir=tmp_path,
        plugin_options={"gongan": {"base_url": sandbox_url, "api_key": KEY}},
    )
    host = PluginHost.create(settings)
    try:
        assert "gongan" in host.plugin_names
        selected = host.verifier_for("hukou")
        assert selected is not None
        assert selected.name == "gongan"
        assert isinstance(selected.verifier, GonganVerifier)
        permit = host.verifier_for("residence_permit")
        assert permit is not None
        assert permit.verifier is selected.verifier
        result = await selected.verifier.verify(hukou_request())
        assert result.outcome is Outcome.MATCH
    finally:
        await host.aclose()
