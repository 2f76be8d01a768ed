"""The three bundled verifiers (公安, 自然资源, 人社), each run through the shipped
``VerifierContract`` against its sandbox department service over signed HTTP (in process),
plus the mapping and fault handling they share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

import ruxue_verifier_gongan.plugin
import ruxue_verifier_renshe.plugin
import ruxue_verifier_ziranziyuan.plugin
from ruxue_core import DepartmentOptions, DepartmentVerifier
from ruxue_core.domain.enums import Outcome
from ruxue_core.errors import ConfigurationError, PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import VerificationRequest, Verifier
from ruxue_core.plugins.host import PluginHost
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.settings import Settings
from ruxue_core.testing import RecordingTransport, VerifierContract
from ruxue_sandbox import (
    SANDBOX_APP_KEY,
    SANDBOX_SECRET,
    DepartmentRecord,
    DepartmentService,
    create_department_app,
)
from ruxue_verifier_gongan import GonganVerifier
from ruxue_verifier_renshe import SocialInsuranceVerifier
from ruxue_verifier_ziranziyuan import PropertyVerifier

ADDRESS = "湖北省鄂州市燕矶镇杨林村3组12号"
CHILD = make_national_id("420704", date(2019, 10, 1), 12)
FATHER = make_national_id("420704", date(1988, 6, 1), 13)
COLLECTIVE = make_national_id("420704", date(2019, 11, 2), 22)
DOWN = make_national_id("420704", date(2019, 12, 3), 32)
STALLS = make_national_id("420704", date(2020, 1, 4), 42)
UNKNOWN = make_national_id("110101", date(2019, 1, 1), 52)
OPTIONS = DepartmentOptions("http://sandbox", SANDBOX_APP_KEY, SANDBOX_SECRET, timeout=5.0)

HUKOU = {
    "hukou_address": ADDRESS,
    "township_code": "420704101",
    "household_no": "HH0000001",
    "move_in_date": "2020-05-01",
    "former_name": "王二",  # more than the contract allows: the plugin must drop it
}
HOME = {
    "property_address": ADDRESS,
    "township_code": "420704101",
    "use": "residential",
    "share": "full",
    "registration_date": "2018-04-02",
    "certificate_kind": "registration_proof",
    "unit_no": "U0001",
    "owners": ["王大明", "李梅"],
    "price": 880000,
}
INSURANCE = {"scheme": "resident", "employer": "某公司"}

Subject = tuple[str, str, Mapping[str, Any]]
SUBJECTS: dict[str, tuple[str, str, Mapping[str, Any]]] = {
    "hukou": ("hukou", CHILD, HUKOU),
    "residence_permit": (
        "residence_permit",
        FATHER,
        {
            "permit_address": ADDRESS,
            "township_code": "420704101",
            "issue_date": "2024-03-01",
            "expiry_date": "2027-02-28",
        },
    ),
    "property": ("property", FATHER, HOME),
    "social_insurance": ("social_insurance", FATHER, INSURANCE),
}
DEPARTMENT_OF = {
    "hukou": "gongan",
    "residence_permit": "gongan",
    "property": "ziranziyuan",
    "social_insurance": "renshe",
}
NAMES = {CHILD: "王小明", FATHER: "王大明"}


def records(source: str) -> list[DepartmentRecord]:
    """A matching record, an ambiguous, an unavailable and a stalling one for ``source``."""
    _, person, facts = SUBJECTS[source]
    base = DepartmentRecord(
        source,
        person,
        NAMES[person],
        facts,
        relations={FATHER: "father"},
        paid_since=date(2025, 1, 1) if source == "social_insurance" else None,
        record_id=f"R-{source}",
    )
    return [
        base,
        replace(base, id_number=COLLECTIVE, ambiguous=True, record_id="R-AMB"),
        replace(base, id_number=DOWN, unavailable=True, record_id="R-DOWN"),
        replace(base, id_number=STALLS, stalls=True, record_id="R-STALL"),
    ]


def request(
    source: str, id_number: str | None = None, name: str | None = None
) -> VerificationRequest:
    _, person, _ = SUBJECTS[source]
    who = id_number or person
    return VerificationRequest(
        source=source,
        subject="child" if source == "hukou" else "guardian",
        id_number=who,
        name=name or NAMES.get(who, NAMES[person]),
        claimed_address=ADDRESS,
        purpose="义务教育入学报名资格核验",
        request_id=f"req-{source}-{who[-6:]}",
        guardian_id_number=FATHER if source == "hukou" else None,
        consent_ref="consent-1",
        acting_user="guardian-1",
        case_ref="42070420260701000000001",
        window_start=date(2025, 7, 1) if source == "social_insurance" else None,
    )


def service_for(source: str) -> DepartmentService:
    service = DepartmentService(DEPARTMENT_OF[source], as_of=date(2026, 7, 1))
    service.faults.hang_seconds = 5.0
    service.add(records(source))
    return service


def verifier_for(source: str, transport: httpx.AsyncBaseTransport) -> DepartmentVerifier:
    department = DEPARTMENT_OF[source]
    if department == "gongan":
        return GonganVerifier(OPTIONS, transport=transport)
    if department == "ziranziyuan":
        return PropertyVerifier(OPTIONS, transport=transport)
    return SocialInsuranceVerifier(OPTIONS, transport=transport)


PLUGINS: dict[str, ModuleType] = {
    "gongan": ruxue_verifier_gongan.plugin,
    "ziranziyuan": ruxue_verifier_ziranziyuan.plugin,
    "renshe": ruxue_verifier_renshe.plugin,
}


class _DepartmentContract(VerifierContract):
    """The contract for one source of one bundled verifier, against its sandbox service."""

    source = "hukou"

    @pytest.fixture
    def service(self) -> DepartmentService:
        return service_for(self.source)

    @pytest.fixture
    def transport(self, service: DepartmentService) -> RecordingTransport:
        return RecordingTransport(httpx.ASGITransport(app=create_department_app(service)))

    @pytest.fixture
    async def verifier(self, transport: RecordingTransport) -> AsyncIterator[Verifier]:
        verifier = verifier_for(self.source, transport)
        yield verifier
        await verifier.aclose()

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return PLUGINS[DEPARTMENT_OF[self.source]]

    @pytest.fixture
    def plugin_settings(self, tmp_path: Path) -> Settings:
        return Settings(data_dir=tmp_path)

    @pytest.fixture
    def matching_request(self) -> VerificationRequest:
        return request(self.source)

    @pytest.fixture
    def mismatching_request(self) -> VerificationRequest:
        return request(self.source, name="李四")  # the name does not belong to the number

    @pytest.fixture
    def unknown_request(self) -> VerificationRequest:
        return request(self.source, UNKNOWN, name="赵五")

    @pytest.fixture
    def unavailable_request(self) -> VerificationRequest:
        return request(self.source, DOWN)

    @pytest.fixture
    def hanging_request(self) -> VerificationRequest:
        return request(self.source, STALLS)

    @pytest.fixture
    def refused_verifier(self, transport: RecordingTransport) -> Verifier:
        wrong = DepartmentOptions("http://sandbox", SANDBOX_APP_KEY, "not-the-secret")
        department = DEPARTMENT_OF[self.source]
        if department == "gongan":
            return GonganVerifier(wrong, transport=transport)
        if department == "ziranziyuan":
            return PropertyVerifier(wrong, transport=transport)
        return SocialInsuranceVerifier(wrong, transport=transport)

    @pytest.fixture
    def signed_exchanges(
        self, transport: RecordingTransport
    ) -> Callable[[], list[tuple[str, str, Mapping[str, str], bytes]]]:
        return lambda: list(transport.sent)

    @pytest.fixture
    def signature_secrets(self) -> Mapping[str, str]:
        return {SANDBOX_APP_KEY: SANDBOX_SECRET}


class TestGonganHukou(_DepartmentContract):
    source = "hukou"


class TestGonganResidencePermit(_DepartmentContract):
    source = "residence_permit"


class TestZiranziyuanProperty(_DepartmentContract):
    source = "property"


class TestRensheSocialInsurance(_DepartmentContract):
    source = "social_insurance"


# -- mapping ------------------------------------------------------------------------------------


async def answer(source: str, req: VerificationRequest | None = None) -> Any:
    service = service_for(source)
    verifier = verifier_for(source, httpx.ASGITransport(app=create_department_app(service)))
    try:
        return await verifier.verify(req or request(source)), service
    finally:
        await verifier.aclose()


async def test_hukou_facts_and_the_recorded_relationship() -> None:
    result, service = await answer("hukou")
    assert result.outcome is Outcome.MATCH
    assert dict(result.facts) == {
        "address": ADDRESS,
        "township_code": "420704101",
        "household": "HH0000001",
        "relationship": "father",
        "move_in_date": date(2020, 5, 1),
    }
    assert result.evidence.source_record_id == "R-hukou"
    [query] = service.queries
    assert (query.context.consent_ref, query.context.acting_user) == ("consent-1", "guardian-1")
    assert query.context.case_ref == "42070420260701000000001"


async def test_property_facts_drop_owners_and_price() -> None:
    result, _ = await answer("property")
    assert dict(result.facts) == {
        "address": ADDRESS,
        "township_code": "420704101",
        "use": "residential",
        "share": "full",
        "registration_date": date(2018, 4, 2),
        "certificate": "registration_proof",
        "unit": "U0001",
    }


async def test_insurance_months_are_counted_from_the_window() -> None:
    result, _ = await answer("social_insurance")
    assert dict(result.facts) == {"scheme": "resident", "months": 12}  # 2025-07 → 2026-07


async def test_ambiguous_record_needs_manual_review() -> None:
    result, _ = await answer("hukou", request("hukou", COLLECTIVE))
    assert result.outcome is Outcome.NEEDS_MANUAL_REVIEW
    assert result.facts == {}
    assert result.reason


async def test_unsupported_source_is_permanent() -> None:
    verifier = PropertyVerifier(
        OPTIONS, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    with pytest.raises(PermanentPluginError):
        await verifier.verify(request("hukou"))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TemporaryPluginError),
        (503, TemporaryPluginError),
        (429, TemporaryPluginError),
        (401, PermanentPluginError),
        (403, PermanentPluginError),
        (400, PermanentPluginError),
    ],
)
async def test_http_status_mapping(status: int, error: type[Exception]) -> None:
    verifier = GonganVerifier(
        OPTIONS, transport=httpx.MockTransport(lambda r: httpx.Response(status))
    )
    with pytest.raises(error):
        await verifier.verify(request("hukou"))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"result": "maybe", "request_id": "req-hukou-000121"}',
        b'{"result": "fou',
    ],
)
async def test_malformed_answers_are_temporary(body: bytes) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=body))
    verifier = GonganVerifier(OPTIONS, transport=transport)
    with pytest.raises(TemporaryPluginError):
        await verifier.verify(request("hukou"))


async def test_connection_refused_is_temporary() -> None:
    options = replace(OPTIONS, base_url="http://127.0.0.1:9", timeout=1.0)
    verifier = GonganVerifier(options)
    try:
        with pytest.raises(TemporaryPluginError):
            await verifier.verify(request("hukou"))
    finally:
        await verifier.aclose()


async def test_a_replayed_request_is_refused() -> None:
    service = service_for("hukou")
    transport = RecordingTransport(httpx.ASGITransport(app=create_department_app(service)))
    verifier = GonganVerifier(OPTIONS, transport=transport)
    await verifier.verify(request("hukou"))
    method, path, headers, body = transport.sent[0]
    async with httpx.AsyncClient(transport=transport.inner, base_url="http://sandbox") as client:
        replay = await client.request(method, path, headers=headers, content=body)
    assert replay.status_code == 401
    assert replay.json()["error"] == "replay"
    await verifier.aclose()


# -- configuration and discovery ----------------------------------------------------------------


def test_options_from_settings() -> None:
    options = {"renshe": {"base_url": "https://rs.example/api/", "app_key": "k", "secret": "s"}}
    verifier = SocialInsuranceVerifier.from_settings(Settings(plugin_options=options))
    assert verifier.client.options == DepartmentOptions("https://rs.example/api", "k", "s", 5.0)


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "ftp://x"},
        {"app_key": ""},
        {"secret": 5},
        {"timeout": 0},
        {"timeout": True},
    ],
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        PropertyVerifier.from_settings(Settings(plugin_options={"ziranziyuan": options}))


def test_all_three_are_discovered_through_entry_points(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, verifiers=["gongan", "ziranziyuan", "renshe"])
    host = PluginHost.create(settings)
    host.check_configuration()
    chosen = {s: host.verifier_for(s) for s in SUBJECTS}
    assert {s: v.name for s, v in chosen.items() if v} == DEPARTMENT_OF
