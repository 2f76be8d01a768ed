"""Submitting an application: every refusal is typed, names its field and writes nothing;
duplicates, channels, and the rate-limited public status lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from ruxue_core.domain import Application, Guardian
from ruxue_core.domain.enums import Channel, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import (
    Duplicate,
    Ineligible,
    InvalidInput,
    NotFound,
    RateLimited,
    RuxueError,
)
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.rules.national_id import make_national_id, mod11_2_check
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_name
from ruxue_core.services.applications import (
    PersonInput,
    SubmitApplication,
    Submitted,
    lookup_status,
    submit_application,
)
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import (
    AUDITOR,
    COUNTER,
    GUARDIAN,
    child_id_number,
    submit_command,
)

WRITTEN = ("application", "guardian", "child", "job", "message", "case_record", "evidence")


async def row_counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.unit_of_work(read_only=True) as uow:
        connection = await uow.session.connection()
        return {
            table: (await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in WRITTEN
        }


async def submit(
    runtime: Runtime, command: SubmitApplication, principal: Principal | None = GUARDIAN
) -> Submitted:
    async with runtime.unit_of_work() as uow:
        return await submit_application(uow, command, principal)


def _with_child(command: SubmitApplication, **changes: str) -> SubmitApplication:
    return replace(command, child=replace(command.child, **changes))


def _with_guardian(command: SubmitApplication, **changes: str) -> SubmitApplication:
    return replace(command, guardian=replace(command.guardian, **changes))


def _wrong_check(value: str) -> str:
    return value[:-1] + ("1" if mod11_2_check(value[:-1]) == "0" else "0")


Change = Callable[[SubmitApplication], SubmitApplication]

BAD_INPUT: dict[str, tuple[Change, str]] = {
    "child ID check character": (
        lambda c: _with_child(c, id_number=_wrong_check(c.child.id_number)),
        "child.idNumber",
    ),
    "child ID too short": (
        lambda c: _with_child(c, id_number="42070420200315123"),
        "child.idNumber",
    ),
    "child ID February 30": (
        lambda c: _with_child(c, id_number=_id_with_body("42070420200230123")),
        "child.idNumber",
    ),
    "guardian ID check character": (
        lambda c: _with_guardian(c, id_number=_wrong_check(c.guardian.id_number)),
        "guardian.idNumber",
    ),
    "guardian ID letters": (
        lambda c: _with_guardian(c, id_number="42070419850101ABCD"),
        "guardian.idNumber",
    ),
    "phone too short": (lambda c: replace(c, guardian_phone="1381234567"), "guardianPhone"),
    "phone not mobile": (lambda c: replace(c, guardian_phone="02787654321"), "guardianPhone"),
    "phone with letters": (lambda c: replace(c, guardian_phone="1381234567a"), "guardianPhone"),
    "phone full-width digits": (
        lambda c: replace(c, guardian_phone="13" + "８" * 9),
        "guardianPhone",
    ),
    "child name with digits": (lambda c: _with_child(c, name="张3"), "child.name"),
    "child name empty": (lambda c: _with_child(c, name="   "), "child.name"),
    "guardian name with markup": (lambda c: _with_guardian(c, name="<b>张三</b>"), "guardian.name"),
    "guardian name too long": (lambda c: _with_guardian(c, name="张" * 51), "guardian.name"),
    "address too short": (lambda c: replace(c, address="燕矶镇"), "address"),
    "address blank": (lambda c: replace(c, address="   \t  "), "address"),
    "address with control characters": (
        lambda c: replace(c, address="燕矶镇新街\x0010号"),
        "address",
    ),
    "address too long": (lambda c: replace(c, address="燕" * 201), "address"),
    "child is the guardian": (
        lambda c: _with_guardian(c, id_number=c.child.id_number),
        "guardian.idNumber",
    ),
    "child is the guardian, lowercase x": (
        lambda c: replace(
            _with_child(c, id_number=_id_ending_in_x()),
            guardian=PersonInput("张三", _id_ending_in_x().lower()),
        ),
        "guardian.idNumber",
    ),
    "unknown season": (lambda c: replace(c, season_code="1999-primary"), "seasonCode"),
}


def _id_with_body(body: str) -> str:
    return body + mod11_2_check(body)


def _id_ending_in_x() -> str:
    """A valid child ID number (born well before the cutoff) whose check character is X."""
    for sequence in range(1000):
        value = make_national_id("420704", date(2019, 6, 1), sequence)
        if value.endswith("X"):
            return value
    raise AssertionError("no sequence gives X")  # pragma: no cover


def _assert_refused(caught: RuxueError, field: str) -> None:
    assert caught.field == field, (caught.field, caught.message)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.message), caught.message


@pytest.mark.parametrize(("change", "field"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
async def test_bad_input_is_refused_with_its_field_and_writes_nothing(
    runtime: Runtime, season: str, change: Change, field: str
) -> None:
    command = change(submit_command(season))
    with pytest.raises(InvalidInput) as caught:
        await submit(runtime, command)
    _assert_refused(caught.value, field)
    assert await row_counts(runtime) == dict.fromkeys(WRITTEN, 0)


async def test_child_born_after_the_cutoff_is_ineligible(
    runtime: Runtime, season: str, season_file: SeasonFile
) -> None:
    cutoff = season_file.season.age_cutoff
    too_young = make_national_id("420704", cutoff + timedelta(days=1), 7)
    with pytest.raises(Ineligible) as caught:
        await submit(runtime, submit_command(season, child_id=too_young))
    _assert_refused(caught.value, "child.idNumber")
    assert f"{cutoff:%Y年%m月%d日}" in caught.value.message
    assert await row_counts(runtime) == dict.fromkeys(WRITTEN, 0)

    # Born on the cutoff day itself is still eligible.
    on_cutoff = make_national_id("420704", cutoff, 9)
    submitted = await submit(runtime, submit_command(season, child_id=on_cutoff))
    assert submitted.status is Status.SUBMITTED


@pytest.mark.parametrize(
    "window",
    [
        pytest.param((timedelta(days=-30), timedelta(days=-1)), id="closed"),
        pytest.param((timedelta(days=1), timedelta(days=30)), id="not yet open"),
    ],
)
async def test_outside_the_registration_window_is_ineligible(
    runtime: Runtime,
    season_file: SeasonFile,
    window: tuple[timedelta, timedelta],
) -> None:
    now = utcnow()
    async with runtime.unit_of_work() as uow:
        await load_season(
            uow, season_file, Principal.system(), window=(now + window[0], now + window[1])
        )
    with pytest.raises(Ineligible) as caught:
        await submit(runtime, submit_command(season_file.season.code))
    _assert_refused(caught.value, "seasonCode")
    assert await row_counts(runtime) == dict.fromkeys(WRITTEN, 0)


async def test_only_guardians_and_counter_staff_submit(runtime: Runtime, season: str) -> None:
    for principal in (None, AUDITOR):
        with pytest.raises(RuxueError) as caught:
            await submit(runtime, submit_command(season), principal)
        assert caught.value.code == "forbidden"
    assert await row_counts(runtime) == dict.fromkeys(WRITTEN, 0)


async def test_the_same_child_twice_in_a_season_is_a_duplicate(
    runtime: Runtime, season: str
) -> None:
    child = _id_ending_in_x()
    first = await submit(runtime, submit_command(season, child_id=child))
    before = await row_counts(runtime)

    again = [
        submit_command(season, child_id=child),
        submit_command(season, child_id=f" {child.lower()} "),
        submit_command(season, child_id=child, guardian_id=_id_with_body("42070419870202123")),
    ]
    for command in again:
        with pytest.raises(Duplicate) as caught:
            await submit(runtime, command)
        assert caught.value.code == "duplicate"
    assert await row_counts(runtime) == before

    async with runtime.unit_of_work(read_only=True) as uow:
        stored = await uow.session.get(Application, first.application_id)
    assert stored is not None
    assert stored.status is Status.SUBMITTED
    assert stored.version == first.version


async def test_concurrent_submissions_of_one_child_give_one_application(
    runtime: Runtime, season: str
) -> None:
    child = child_id_number()

    async def attempt(phone: str) -> Submitted:
        async with runtime.unit_of_work() as uow:
            return await submit_application(
                uow, submit_command(season, child_id=child, phone=phone), GUARDIAN
            )

    outcomes = await asyncio.gather(
        attempt("13812345678"),
        attempt("13912345678"),
        attempt("13712345678"),
        return_exceptions=True,
    )
    submitted = [o for o in outcomes if isinstance(o, Submitted)]
    refused = [o for o in outcomes if not isinstance(o, Submitted)]
    assert len(submitted) == 1, outcomes
    assert all(isinstance(o, Duplicate) for o in refused), outcomes
    counts = await row_counts(runtime)
    assert (counts["application"], counts["child"], counts["guardian"]) == (1, 1, 1)


async def test_twins_submitted_at_once_share_one_guardian(runtime: Runtime, season: str) -> None:
    twins = [child_id_number(), child_id_number()]

    async def attempt(child: str) -> Submitted:
        async with runtime.unit_of_work() as uow:
            return await submit_application(uow, submit_command(season, child_id=child), GUARDIAN)

    outcomes = await asyncio.gather(*(attempt(child) for child in twins))
    assert len({o.receipt_no for o in outcomes}) == 2
    counts = await row_counts(runtime)
    assert (counts["application"], counts["child"], counts["guardian"]) == (2, 2, 1)


async def test_channel_follows_who_submitted(runtime: Runtime, season: str) -> None:
    online = await submit(runtime, submit_command(season), GUARDIAN)
    counter = await submit(
        runtime, submit_command(season, guardian_id=_id_with_body("42070419900101567")), COUNTER
    )
    async with runtime.unit_of_work(read_only=True) as uow:
        by_guardian = await uow.session.get(Application, online.application_id)
        by_counter = await uow.session.get(Application, counter.application_id)
        assert by_guardian is not None and by_counter is not None
        assert by_guardian.channel is Channel.ONLINE
        assert by_counter.channel is Channel.COUNTER
        guardian = await uow.session.get(Guardian, by_guardian.guardian_id)
        walk_in = await uow.session.get(Guardian, by_counter.guardian_id)
    assert guardian is not None and walk_in is not None
    assert guardian.subject == GUARDIAN.id, "online submissions link the guardian's login"
    assert walk_in.subject is None, "counter staff are not the guardian"


async def test_submission_returns_codes_and_normalises_input(runtime: Runtime, season: str) -> None:
    command = submit_command(season, phone="138-1234 5678", address="  燕矶镇   新街  10号 ")
    submitted = await submit(runtime, command)
    assert submitted.status is Status.SUBMITTED
    assert len(submitted.query_code) == 6
    assert submitted.query_code.isdigit()
    async with runtime.unit_of_work(read_only=True) as uow:
        stored = await uow.session.get(Application, submitted.application_id)
        assert stored is not None
        guardian = await uow.session.get(Guardian, stored.guardian_id)
        assert guardian is not None
        phone = uow.cipher.decrypt(guardian.phone_ct, purpose="guardian.phone")
    assert stored.receipt_no == submitted.receipt_no
    assert stored.address == "燕矶镇 新街 10号"
    assert phone == "13812345678"


# ---- public status lookup -------------------------------------------------------------------


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def lookup(runtime: Runtime, receipt_no: str, code: str) -> str:
    async with runtime.unit_of_work() as uow:
        view = await lookup_status(uow, receipt_no, code)
    assert view.receipt_no == receipt_no
    return view.child_name


async def stored(runtime: Runtime, application_id: int) -> Application:
    async with runtime.unit_of_work(read_only=True) as uow:
        found = await uow.session.get(Application, application_id)
    assert found is not None
    return found


async def test_lookup_with_the_right_code_shows_a_masked_child_name(
    runtime: Runtime, season: str
) -> None:
    command = submit_command(season)
    submitted = await submit(runtime, command)
    async with runtime.unit_of_work() as uow:
        view = await lookup_status(uow, submitted.receipt_no.lower(), submitted.query_code)
    assert view.receipt_no == submitted.receipt_no
    assert view.status is Status.SUBMITTED
    assert view.status_label == "已提交"
    assert view.child_name == mask_name(command.child.name) == "张**"
    assert view.school_name is None


async def test_lookup_with_a_wrong_code_or_unknown_receipt_is_not_found(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    with pytest.raises(NotFound) as wrong_code:
        await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    unknown = _id_with_body("4207042000010100000000")  # well-formed, never issued
    with pytest.raises(NotFound) as no_such:
        await lookup(runtime, unknown, submitted.query_code)
    assert wrong_code.value.message == no_such.value.message, "no hint which part was wrong"


@pytest.mark.parametrize(
    ("receipt", "code", "field"),
    [
        ("not-a-receipt", "123456", "receiptNo"),
        ("42070420260701123456789", "123456", "receiptNo"),
        (None, "12345", "queryCode"),
        (None, "12345a", "queryCode"),
    ],
)
async def test_malformed_lookup_input_is_invalid(
    runtime: Runtime, season: str, receipt: str | None, code: str, field: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    if receipt is not None and receipt[:-1].isdigit():
        receipt = _wrong_check(receipt)
    with pytest.raises(InvalidInput) as caught:
        await lookup(runtime, receipt or submitted.receipt_no, code)
    assert caught.value.field == field


async def test_too_many_wrong_codes_lock_out_even_the_right_code(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    limit = runtime.settings.query_code_max_failures
    assert limit > 1
    for attempt in range(limit):
        with pytest.raises(NotFound):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
        if attempt < limit - 1:
            assert (await stored(runtime, submitted.application_id)).query_failures == attempt + 1
    locked = await stored(runtime, submitted.application_id)
    assert locked.query_locked_until is not None
    assert locked.query_locked_until > utcnow()

    with pytest.raises(RateLimited):
        await lookup(runtime, submitted.receipt_no, submitted.query_code)
    with pytest.raises(RateLimited):
        await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))

    # Another application is not affected by the lock.
    other = await submit(runtime, submit_command(season))
    assert await lookup(runtime, other.receipt_no, other.query_code) == "张**"


async def test_a_right_code_before_the_limit_resets_the_failure_count(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    limit = runtime.settings.query_code_max_failures
    for _ in range(limit - 1):
        with pytest.raises(NotFound):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    await lookup(runtime, submitted.receipt_no, submitted.query_code)
    assert (await stored(runtime, submitted.application_id)).query_failures == 0
    for _ in range(limit - 1):
        with pytest.raises(NotFound):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    await lookup(runtime, submitted.receipt_no, submitted.query_code)  # still not locked


async def test_failed_lookups_do_not_bump_the_version(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, submit_command(season))
    before = await stored(runtime, submitted.application_id)
    for _ in range(runtime.settings.query_code_max_failures + 1):
        with pytest.raises((NotFound, RateLimited)):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    after = await stored(runtime, submitted.application_id)
    assert after.version == before.version == submitted.version
    assert after.status is before.status
    assert after.updated_at == before.updated_at
