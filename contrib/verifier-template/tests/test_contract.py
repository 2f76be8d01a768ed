"""The template passes Ruxue's VerifierContract against the sandbox 公安 service, as it
stands. Keep this test when you adapt the template: point it at your service's test double."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from types import ModuleType

import httpx
import pytest

import ruxue_verifier_template.plugin
from ruxue_core import DepartmentOptions, Settings, VerificationRequest, Verifier
from ruxue_core.testing import RecordingTransport, VerifierContract
from ruxue_sandbox import (
    SANDBOX_APP_KEY,
    SANDBOX_SECRET,
    DepartmentRecord,
    DepartmentService,
    create_department_app,
)
from ruxue_verifier_template import TemplateVerifier

CHILD = "420704201910010015"
OPTIONS = DepartmentOptions("http://sandbox", SANDBOX_APP_KEY, SANDBOX_SECRET)
RECORD = DepartmentRecord(
    "hukou",
    CHILD,
    "王小明",
    {"hukou_address": "某市某镇某村1号", "township_code": "420704101", "household_no": "H1"},
    record_id="HK-1",
)


def ask(id_number: str = CHILD, name: str = "王小明") -> VerificationRequest:
    return VerificationRequest(
        source="hukou",
        subject="child",
        id_number=id_number,
        name=name,
        claimed_address="某市某镇某村1号",
        purpose="义务教育入学报名资格核验",
        request_id=f"req-{id_number[-4:]}-{name}",
        consent_ref="consent-1",
        case_ref="case-1",
    )


class TestTemplateVerifier(VerifierContract):
    @pytest.fixture
    def transport(self) -> RecordingTransport:
        service = DepartmentService("gongan")
        service.faults.hang_seconds = 5.0
        service.add(
            [
                RECORD,
                replace(RECORD, id_number="420704201910020011", unavailable=True),
                replace(RECORD, id_number="420704201910030017", stalls=True),
            ]
        )
        return RecordingTransport(httpx.ASGITransport(app=create_department_app(service)))

    @pytest.fixture
    async def verifier(self, transport: RecordingTransport) -> AsyncIterator[Verifier]:
        verifier = TemplateVerifier(OPTIONS, transport=transport)
        yield verifier
        await verifier.aclose()

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return ruxue_verifier_template.plugin

    @pytest.fixture
    def plugin_settings(self) -> Settings:
        options = {"base_url": "http://127.0.0.1:8701", "app_key": "k", "secret": "s"}
        return Settings(plugin_options={"template-hukou": options})

    @pytest.fixture
    def matching_request(self) -> VerificationRequest:
        return ask()

    @pytest.fixture
    def mismatching_request(self) -> VerificationRequest:
        return ask(name="李四")

    @pytest.fixture
    def unknown_request(self) -> VerificationRequest:
        return ask("110101201901010036")

    @pytest.fixture
    def unavailable_request(self) -> VerificationRequest:
        return ask("420704201910020011")

    @pytest.fixture
    def hanging_request(self) -> VerificationRequest:
        return ask("420704201910030017")

    @pytest.fixture
    def refused_verifier(self, transport: RecordingTransport) -> Verifier:
        return TemplateVerifier(replace(OPTIONS, secret="wrong"), transport=transport)

    @pytest.fixture
    def signed_exchanges(
        self, transport: RecordingTransport
    ) -> Callable[[], list[tuple[str, str, Mapping[str, str], bytes]]]:
        return lambda: list(transport.sent)

    @pytest.fixture
    def signature_secrets(self) -> Mapping[str, str]:
        return {SANDBOX_APP_KEY: SANDBOX_SECRET}
