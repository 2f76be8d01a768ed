"""Field names, code tables and even which record kind goes to which interface change by
configuration alone: the same season, pushed through the installed plugin to a fake platform
whose specification differs from the default guess in all three."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest
from casesync_helpers import settle

from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.settings import CaseSyncSettings, Settings
from ruxue_core.testing.factories import GUARDIAN, SCHOOL_REVIEWER, child_id_number, submit_command
from ruxue_core.uow import UnitOfWork
from ruxue_sandbox import (
    FakePlatform,
    InterfaceSpec,
    PlatformSpec,
    create_platform_app,
    serve_in_thread,
)

SYSTEM = Principal.system()
SWAPPED: Final[dict[str, Any]] = {
    "transport": {
        "push_path": "/api/{interface}",
        "ack_path": "/api/ack/query",
        "receipt_field": "caseNo",
        "version_field": "dataVersion",
        "datetime_format": "%Y%m%d%H%M%S",
    },
    # Another split: acceptance and process records together, the rest elsewhere.
    "interfaces": {"apply": ["accept", "process"], "close": ["special", "result"]},
    "fields": {
        "accept": {
            "caseNo": "receipt_no",
            "dataVersion": "version",
            "recordKind": {"value": "A"},
            "password": "personal.query_code",
            "applicant": "personal.applicant_name",
            "itemNo": "item_code",
            "source": {"from": "channel", "codes": "src"},
            "acceptedAt": {"from": "accepted_at", "format": "datetime"},
        },
        "process": {
            "caseNo": "receipt_no",
            "dataVersion": "version",
            "recordKind": {"value": "P"},
            "act": {"from": "action", "codes": "act"},
            "stepName": "step",
        },
        "special": {
            "caseNo": "receipt_no",
            "dataVersion": "version",
            "phase": "phase",
            "pauseKind": {"from": "procedure", "codes": "pause"},
        },
        "result": {
            "caseNo": "receipt_no",
            "dataVersion": "version",
            "resultCode": {"from": "outcome", "codes": "res"},
        },
    },
    "codes": {
        "src": {"online": "WEB", "counter": "HALL"},
        "act": {
            "submit": "A01",
            "start_verification": "A02",
            "fail_verification": "A03",
            "correct": "A04",
            "pass_verification": "A05",
            "reject": "A06",
        },
        "pause": {"correction": "BZ"},
        "res": {"rejected": "NO"},
    },
}
SWAPPED_SPEC: Final = PlatformSpec(
    receipt_field="caseNo",
    version_field="dataVersion",
    interfaces={
        "apply": InterfaceSpec(("recordKind",)),
        "close": InterfaceSpec(()),
    },
)
WALK: Final = [
    (Event.START_VERIFICATION, SYSTEM),
    (Event.FAIL_VERIFICATION, SYSTEM),
    (Event.CORRECT, GUARDIAN),
    (Event.START_VERIFICATION, SYSTEM),
    (Event.PASS_VERIFICATION, SYSTEM),
    (Event.REJECT, SCHOOL_REVIEWER),
]


@pytest.fixture
def platform() -> Iterator[tuple[FakePlatform, str]]:
    fake = FakePlatform(spec=SWAPPED_SPEC, ack_delay=0.05)
    with serve_in_thread(create_platform_app(fake)) as url:
        yield fake, url


async def run_season(settings: Settings, season: str) -> str:
    """One case through a correction to rejection, pushed until acknowledged."""
    runtime = Runtime.create(settings)
    try:
        submitted = await submit_application(
            runtime, submit_command(season, child_id=child_id_number()), GUARDIAN
        )
        for event, principal in WALK:

            def step(uow: UnitOfWork, event: Event = event, who: Principal = principal) -> None:
                case = load_case(uow, submitted.application_id)
                assert case is not None
                apply_event(uow, case, event, who)
                uow.commit()

            await runtime.write(step)
        await settle(runtime)
        return submitted.receipt_no
    finally:
        await runtime.close()


async def test_a_swapped_mapping_changes_names_codes_and_interfaces(
    settings: Settings, season: str, platform: tuple[FakePlatform, str]
) -> None:
    fake, url = platform
    swapped = settings.model_copy(
        update={
            "case_reporters": ["hubei"],
            "plugin_options": {"hubei": {"base_url": url, "mapping": SWAPPED}},
            "casesync": CaseSyncSettings(ack_timeout_seconds=1, ack_poll_seconds=0.01),
        }
    )
    receipt_no = await run_season(swapped, season)

    assert fake.versions(receipt_no) == list(range(1, 12))
    assert fake.order_violations == [] and not fake.rejected
    by_version = {v: s for (r, v), s in fake.stored.items() if r == receipt_no}
    interfaces = [by_version[v].interface for v in sorted(by_version)]
    assert interfaces == ["apply"] * 4 + ["close"] * 2 + ["apply"] * 4 + ["close"]
    accept = by_version[1].body
    assert set(accept) == {
        "caseNo",
        "dataVersion",
        "recordKind",
        "password",
        "applicant",
        "itemNo",
        "source",
        "acceptedAt",
    }
    assert (accept["caseNo"], accept["source"], accept["applicant"]) == (receipt_no, "WEB", "张三")
    assert len(accept["acceptedAt"]) == 14 and accept["acceptedAt"].isdigit()
    assert [by_version[v].body["act"] for v in (2, 3, 4, 7, 8, 9, 10)] == [
        "A01",
        "A02",
        "A03",
        "A04",
        "A02",
        "A05",
        "A06",
    ]
    assert (by_version[5].body["pauseKind"], by_version[5].body["phase"]) == ("BZ", "start")
    assert by_version[11].body == {"caseNo": receipt_no, "dataVersion": 11, "resultCode": "NO"}
    assert not any("PROJID" in s.body for s in fake.stored.values())
