"""The bundled identity providers (``dev`` and ``staff``) and the recording case reporter in
``ruxue_core.testing.fakes`` honour the shipped contract suites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from ruxue_core.domain.enums import Role
from ruxue_core.plugins import builtin
from ruxue_core.plugins.builtin import (
    DevIdentityProvider,
    StaffIdentityProvider,
    issue_dev_token,
)
from ruxue_core.plugins.contracts import CaseRecordPush, CaseReporter, IdentityProvider
from ruxue_core.rules.codes import new_receipt_no
from ruxue_core.settings import Mode, Settings
from ruxue_core.staff import StaffScope, issue_session
from ruxue_core.testing import (
    CaseReporterContract,
    IdentityProviderContract,
    RecordingCaseReporter,
    RecordingCaseReporterPlugin,
)
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID

COUNTER_SCOPE = StaffScope(
    username="zhao",
    name="赵窗口",
    role=Role.COUNTER_STAFF,
    region_code="420704101",
    school_code=None,
    epoch=3,
    active=True,
)


@pytest.fixture
def embedded(tmp_path: Path) -> Settings:
    """Embedded settings whose keys are made in the test's own directory."""
    return Settings(data_dir=tmp_path / "var")


class TestDevIdentityProvider(IdentityProviderContract):
    """Development tokens from ``ruxue token`` (a guardian with a verified ID number)."""

    @pytest.fixture
    def provider(self, embedded: Settings) -> IdentityProvider:
        return DevIdentityProvider(embedded)

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return builtin

    @pytest.fixture
    def plugin_settings(self, embedded: Settings) -> Settings:
        return embedded

    @pytest.fixture
    def valid_authorization(self, embedded: Settings) -> str:
        return f"Bearer {issue_dev_token(embedded, GUARDIAN)}"


class TestStaffIdentityProvider(IdentityProviderContract):
    """Staff password sessions (the token ``sign_in`` hands out)."""

    @pytest.fixture
    def provider(self, embedded: Settings) -> IdentityProvider:
        return StaffIdentityProvider(embedded)

    @pytest.fixture
    def plugin_module(self) -> ModuleType:
        return builtin

    @pytest.fixture
    def plugin_settings(self, embedded: Settings) -> Settings:
        return embedded

    @pytest.fixture
    def valid_authorization(self, embedded: Settings) -> str:
        token, _ = issue_session(embedded, COUNTER_SCOPE)
        return f"Bearer {token}"


class TestRecordingCaseReporter(CaseReporterContract):
    """The fake provincial platform tests use."""

    @pytest.fixture
    async def reporter(self) -> AsyncIterator[CaseReporter]:
        reporter = RecordingCaseReporter()
        reporter.reject.add("R-REFUSED")
        yield reporter
        await reporter.aclose()

    @pytest.fixture
    def malformed_record(self) -> CaseRecordPush:
        return CaseRecordPush("R-REFUSED", 1, "accept", {"receipt_no": "R-REFUSED"})

    @pytest.fixture
    def plugin_module(self) -> RecordingCaseReporterPlugin:
        return RecordingCaseReporterPlugin()

    @pytest.fixture
    def case_record(self) -> CaseRecordPush:
        receipt_no = new_receipt_no("420704", date(2026, 7, 1))
        return CaseRecordPush(  # the canonical fields ruxue_core.casesync records
            receipt_no=receipt_no,
            version=1,
            kind="accept",
            payload={
                "receipt_no": receipt_no,
                "version": 1,
                "kind": "accept",
                "application_version": 1,
                "region_code": "420704",
                "item_code": "420704-JY-0001",
                "implementation_code": "11420704MB1234567X-420704000000-000-JY0001-1-00",
                "department_code": "11420704MB1234567X",
                "channel": "online",
                "accepted_at": "2026-07-01T09:00:00+08:00",
                "accepted_by": "张三",
                "promised_at": "2026-07-21",
            },
            personal={"applicant_id_number": "420704198501010012", "query_code": "123456"},
        )


# -- what the contracts leave to each provider --------------------------------------------


async def test_dev_token_carries_the_whole_principal(embedded: Settings) -> None:
    principal = await DevIdentityProvider(embedded).authenticate(
        f"Bearer {issue_dev_token(embedded, GUARDIAN)}"
    )
    assert principal == GUARDIAN
    assert principal is not None
    assert principal.verified_id_number == GUARDIAN_ID  # not part of equality


async def test_providers_do_not_accept_each_others_tokens(embedded: Settings) -> None:
    dev = f"Bearer {issue_dev_token(embedded, GUARDIAN)}"
    staff = f"Bearer {issue_session(embedded, COUNTER_SCOPE)[0]}"
    assert await StaffIdentityProvider(embedded).authenticate(dev) is None
    assert await DevIdentityProvider(embedded).authenticate(staff) is None
    session = await StaffIdentityProvider(embedded).authenticate(staff)
    assert session is not None
    assert (session.id, session.role, session.region_code, session.session_epoch) == (
        "staff:zhao",
        Role.COUNTER_STAFF,
        "420704101",
        3,
    )


async def test_tokens_are_bound_to_the_deployment_key(embedded: Settings, tmp_path: Path) -> None:
    elsewhere = Settings(data_dir=tmp_path / "elsewhere")
    dev = f"Bearer {issue_dev_token(elsewhere, GUARDIAN)}"
    staff = f"Bearer {issue_session(elsewhere, COUNTER_SCOPE)[0]}"
    assert await DevIdentityProvider(embedded).authenticate(dev) is None
    assert await StaffIdentityProvider(embedded).authenticate(staff) is None


def test_dev_provider_is_registered_in_embedded_mode_only(embedded: Settings) -> None:
    names = [r.name for r in builtin.ruxue_identity_providers(config=embedded)]
    assert sorted(names) == ["dev", "guardian", "staff"]
    production = embedded.model_copy(update={"mode": Mode.PRODUCTION})
    production_names = [r.name for r in builtin.ruxue_identity_providers(config=production)]
    assert production_names == ["staff", "guardian"]
