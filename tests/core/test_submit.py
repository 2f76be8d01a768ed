"""Submitting an application: every refusal is typed, names its field and writes nothing;
townships, the age window, duplicates, channels, receipt numbers, and the rate-limited public
status lookup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Application, Guardian, QueryGuard
from ruxue_core.domain.enums import Channel, Outcome, Role, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import (
    Duplicate,
    Forbidden,
    Ineligible,
    InvalidInput,
    NotFound,
    OutOfPhase,
    RateLimited,
    RuxueError,
)
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.lifecycle import load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile, SeasonInfo
from ruxue_core.rules import codes
from ruxue_core.rules.national_id import make_national_id, mod11_2_check
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_name
from ruxue_core.services.applications import (
    PersonInput,
    SubmitApplication,
    Submitted,
    submit_application,
)
from ruxue_core.services.lookup import StatusView, lookup_status
from ruxue_core.services.seasons import load_season
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    SCHOOL_REVIEWER,
    UNVERIFIED_GUARDIAN,
    child_id_number,
    submit_command,
)
from ruxue_core.testing.fakes import FakeVerifier, FakeVerifierPlugin
from ruxue_core.uow import UnitOfWork

COUNTED = (
    "application",
    "guardian",
    "child",
    "job",
    "message",
    "case_record",
    "evidence",
    "audit_event",
    "query_guard",
)


async def row_counts(runtime: Runtime) -> dict[str, int]:
    def count(uow: UnitOfWork) -> dict[str, int]:
        return {
            table: uow.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in COUNTED
        }

    return await runtime.read(count)


async def submit(
    runtime: Runtime, command: SubmitApplication, principal: Principal | None = GUARDIAN
) -> Submitted:
    return await submit_application(runtime, command, principal)


async def stored(runtime: Runtime, application_id: int) -> Application:
    found = await runtime.read(lambda uow: uow.session.get(Application, application_id))
    assert found is not None
    return found


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
    "season code with a NUL": (lambda c: replace(c, season_code="2026\x00primary"), "seasonCode"),
    "township code with a NUL": (
        lambda c: replace(c, township_code="420704\x00101"),
        "townshipCode",
    ),
    "paper seen with a NUL": (lambda c: replace(c, paper_seen=("户口\x00簿",)), "paperSeen"),
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
    "unknown township": (lambda c: replace(c, township_code="420704999"), "townshipCode"),
    "township code of the district": (
        lambda c: replace(c, township_code="420704"),
        "townshipCode",
    ),
    "empty township": (lambda c: replace(c, township_code=""), "townshipCode"),
    "too many papers seen": (
        lambda c: replace(c, paper_seen=tuple(f"材料{n}" for n in range(21))),
        "paperSeen",
    ),
}


def _id_with_body(body: str) -> str:
    return body + mod11_2_check(body)


def _id_ending_in_x() -> str:
    """A valid child ID number (born inside the age window) whose check character is X."""
    for sequence in range(1000):
        value = make_national_id("420704", date(2019, 10, 1), sequence)
        if value.endswith("X"):
            return value
    raise AssertionError("no sequence gives X")  # pragma: no cover


def _assert_refused(caught: RuxueError, field: str) -> None:
    assert caught.field == field, (caught.field, caught.message)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.message), caught.message


@pytest.mark.parametrize("principal", [GUARDIAN, COUNTER], ids=lambda p: p.role.value)
@pytest.mark.parametrize(("change", "field"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
async def test_bad_input_is_refused_with_its_field_and_writes_nothing(
    runtime: Runtime, season: str, change: Change, field: str, principal: Principal
) -> None:
    """Counter staff are not bound to the guardian ID on the form, so their refusals come from
    field validation alone; a guardian's must come out the same. Counter staff receive only
    their own township's applications, so another township is Forbidden for them."""
    before = await row_counts(runtime)
    command = change(submit_command(season))
    expected: type[RuxueError] = InvalidInput
    if principal.role is Role.COUNTER_STAFF and command.township_code != principal.region_code:
        expected = Forbidden
    with pytest.raises(expected) as caught:
        await submit(runtime, command, principal)
    _assert_refused(caught.value, field)
    assert await row_counts(runtime) == before
    assert before["application"] == 0


# ---- the age window -------------------------------------------------------------------------


def _born(info: SeasonInfo, which: str) -> date:
    day = timedelta(days=1)
    deferral, early = info.deferral_earliest, info.early_entry_latest
    assert deferral is not None and early is not None
    return {
        "earliest": info.earliest,
        "cutoff": info.age_cutoff,
        "first deferral day": deferral,
        "last deferral day": info.earliest - day,
        "first early-entry day": info.age_cutoff + day,
        "last early-entry day": early,
        "before deferral": deferral - day,
        "after early entry": early + day,
    }[which]


@pytest.mark.parametrize("which", ["before deferral", "after early entry"])
async def test_a_child_outside_every_age_window_is_ineligible(
    runtime: Runtime, season: str, season_file: SeasonFile, which: str
) -> None:
    info = season_file.season
    before = await row_counts(runtime)
    child = make_national_id("420704", _born(info, which), 7)
    for principal in (GUARDIAN, COUNTER):
        with pytest.raises(Ineligible) as caught:
            await submit(runtime, submit_command(season, child_id=child), principal)
        _assert_refused(caught.value, "child.idNumber")
        assert f"{info.earliest:%Y年%m月%d日}" in caught.value.message
        assert f"{info.age_cutoff:%Y年%m月%d日}" in caught.value.message
    assert await row_counts(runtime) == before


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier(Outcome.MATCH)


@pytest.fixture
async def verified(settings: Settings, verifier: FakeVerifier) -> AsyncIterator[Runtime]:
    """A runtime whose verifier answers every check with a match."""
    runtime = Runtime.create(
        settings.model_copy(update={"verifiers": ["fake"]}),
        extra_plugins=[FakeVerifierPlugin(verifier)],
    )
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    ("which", "exception", "after_verification"),
    [
        ("earliest", None, Status.SCHOOL_REVIEW),
        ("cutoff", None, Status.SCHOOL_REVIEW),
        ("first deferral day", "deferral", Status.MANUAL_REVIEW),
        ("last deferral day", "deferral", Status.MANUAL_REVIEW),
        ("first early-entry day", "early_entry", Status.MANUAL_REVIEW),
        ("last early-entry day", "early_entry", Status.MANUAL_REVIEW),
    ],
)
async def test_deferral_and_early_entry_are_accepted_for_manual_review(
    verified: Runtime,
    verifier: FakeVerifier,
    season: str,
    season_file: SeasonFile,
    which: str,
    exception: str | None,
    after_verification: Status,
) -> None:
    child = make_national_id("420704", _born(season_file.season, which), 9)
    submitted = await submit(verified, submit_command(season, child_id=child))
    assert submitted.status is Status.SUBMITTED
    application = await stored(verified, submitted.application_id)
    assert application.age_exception == exception

    await Worker(verified, HANDLERS).drain()
    assert len(verifier.requests) == 5, "the season's five checks ran and matched"
    assert (await stored(verified, submitted.application_id)).status is after_verification


# ---- the registration window and who may submit ---------------------------------------------


@pytest.mark.parametrize(
    "window",
    [
        pytest.param((timedelta(days=-30), timedelta(days=-1)), id="closed"),
        pytest.param((timedelta(days=1), timedelta(days=30)), id="not yet open"),
    ],
)
async def test_outside_the_registration_window_is_out_of_phase(
    runtime: Runtime,
    season_file: SeasonFile,
    window: tuple[timedelta, timedelta],
) -> None:
    now = utcnow()
    await load_season(
        runtime, season_file, Principal.system(), window=(now + window[0], now + window[1])
    )
    before = await row_counts(runtime)
    for principal in (GUARDIAN, COUNTER):
        with pytest.raises(OutOfPhase) as caught:
            await submit(runtime, submit_command(season_file.season.code), principal)
        _assert_refused(caught.value, "seasonCode")
        assert caught.value.phase == "registration" and "不在报名时间内" in caught.value.message
    assert await row_counts(runtime) == before


@pytest.mark.parametrize(
    "principal",
    [None, AUDITOR, ADMIN, BUREAU, SCHOOL_REVIEWER, UNVERIFIED_GUARDIAN],
    ids=lambda p: "anonymous" if p is None else p.id,
)
async def test_only_verified_guardians_and_counter_staff_submit(
    runtime: Runtime, season: str, principal: Principal | None
) -> None:
    before = await row_counts(runtime)
    with pytest.raises(Forbidden) as caught:
        await submit(runtime, submit_command(season), principal)
    assert caught.value.code == "forbidden"
    assert await row_counts(runtime) == before


# ---- townships ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("township", "school"),
    [("420704101", "LK-YJ-01"), ("420704102", "LK-YY-01"), ("420704103", "LK-SW-01")],
)
async def test_the_townships_school_is_assigned_at_submission(
    runtime: Runtime, season: str, township: str, school: str
) -> None:
    submitted = await submit(runtime, submit_command(season, township_code=township))
    case = await runtime.read(lambda uow: load_case(uow, submitted.application_id))
    assert case is not None
    assert case.application.township_code == township
    assert case.school is not None
    assert case.school.code == school


# ---- duplicates and races -------------------------------------------------------------------


async def test_the_same_child_twice_in_a_season_is_a_duplicate(
    runtime: Runtime, season: str
) -> None:
    child = _id_ending_in_x()
    first = await submit(runtime, submit_command(season, child_id=child))
    before = await row_counts(runtime)

    again: list[tuple[SubmitApplication, Principal]] = [
        (submit_command(season, child_id=child), GUARDIAN),
        (submit_command(season, child_id=f" {child.lower()} "), GUARDIAN),
        (submit_command(season, child_id=child), COUNTER),
        (
            submit_command(season, child_id=child, guardian_id=_id_with_body("42070419870202123")),
            COUNTER,
        ),
    ]
    for command, principal in again:
        with pytest.raises(Duplicate) as caught:
            await submit(runtime, command, principal)
        assert caught.value.code == "duplicate"
    assert await row_counts(runtime) == before

    application = await stored(runtime, first.application_id)
    assert application.status is Status.SUBMITTED
    assert application.version == first.version == 1


async def test_concurrent_submissions_of_one_child_give_one_application(
    runtime: Runtime, season: str
) -> None:
    child = child_id_number()

    async def attempt(phone: str) -> Submitted:
        return await submit_application(
            runtime, submit_command(season, child_id=child, phone=phone), GUARDIAN
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
        return await submit_application(runtime, submit_command(season, child_id=child), GUARDIAN)

    outcomes = await asyncio.gather(*(attempt(child) for child in twins))
    assert len({o.receipt_no for o in outcomes}) == 2
    counts = await row_counts(runtime)
    assert (counts["application"], counts["child"], counts["guardian"]) == (2, 2, 1)
    guardians = {(await stored(runtime, o.application_id)).guardian_id for o in outcomes}
    assert len(guardians) == 1


async def test_a_receipt_number_clash_is_retried_with_a_new_number(
    runtime: Runtime, season: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await submit(runtime, submit_command(season))
    real = codes.new_receipt_no
    issued: list[str] = []

    def clashing(district_code: str, on: date) -> str:
        value = first.receipt_no if not issued else real(district_code, on)
        issued.append(value)
        return value

    monkeypatch.setattr("ruxue_core.rules.codes.new_receipt_no", clashing)
    second = await submit(runtime, submit_command(season))

    assert len(issued) == 2, "one clash, then one fresh number"
    assert issued[0] == first.receipt_no
    assert second.receipt_no == issued[1] != first.receipt_no
    assert codes.is_valid_receipt_no(second.receipt_no)
    assert (await stored(runtime, second.application_id)).receipt_no == second.receipt_no
    assert (await stored(runtime, first.application_id)).receipt_no == first.receipt_no
    counts = await row_counts(runtime)
    assert (counts["application"], counts["child"], counts["guardian"]) == (2, 2, 1)
    assert (await lookup(runtime, second.receipt_no, second.query_code)).status is (
        Status.SUBMITTED
    )


# ---- what is stored -------------------------------------------------------------------------


async def test_channel_follows_who_submitted(runtime: Runtime, season: str) -> None:
    online = await submit(runtime, submit_command(season), GUARDIAN)
    counter = await submit(
        runtime, submit_command(season, guardian_id=_id_with_body("42070419900101567")), COUNTER
    )
    by_guardian = await stored(runtime, online.application_id)
    by_counter = await stored(runtime, counter.application_id)
    assert by_guardian.channel is Channel.ONLINE
    assert by_counter.channel is Channel.COUNTER
    guardian = await runtime.read(lambda uow: uow.session.get(Guardian, by_guardian.guardian_id))
    walk_in = await runtime.read(lambda uow: uow.session.get(Guardian, by_counter.guardian_id))
    assert guardian is not None and walk_in is not None
    assert guardian.subject == GUARDIAN.id, "online submissions bind the guardian's login"
    assert guardian.bound_at is not None
    assert walk_in.subject is None, "counter staff are not the guardian"
    assert walk_in.bound_at is None


async def test_submission_returns_codes_and_normalises_input(runtime: Runtime, season: str) -> None:
    command = submit_command(season, phone="138-1234 5678", address="  燕矶镇   新街  10号 ")
    submitted = await submit(runtime, command)
    assert submitted.status is Status.SUBMITTED
    assert submitted.version == 1
    assert len(submitted.query_code) == 6
    assert submitted.query_code.isdigit()
    application = await stored(runtime, submitted.application_id)
    guardian = await runtime.read(lambda uow: uow.session.get(Guardian, application.guardian_id))
    assert guardian is not None
    cipher = runtime.cipher
    assert application.receipt_no == submitted.receipt_no
    assert application.status is Status.SUBMITTED
    assert application.version == 1
    assert application.age_exception is None
    address = cipher.decrypt(application.address_ct, purpose="application.address")
    assert address == "燕矶镇 新街 10号"
    assert cipher.decrypt(guardian.phone_ct, purpose="guardian.phone") == "13812345678"
    assert cipher.matches(submitted.query_code, application.query_code_hash, purpose="query_code")


# ---- public status lookup -------------------------------------------------------------------


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


NEVER_ISSUED = _id_with_body("4207042000010100000000")  # well-formed, never issued


async def lookup(
    runtime: Runtime, receipt_no: str, code: str, client: str = "192.0.2.1"
) -> StatusView:
    view = await lookup_status(runtime, receipt_no, code, client=client)
    assert view.receipt_no == receipt_no.strip().upper()
    return view


async def guard(runtime: Runtime, receipt_no: str) -> QueryGuard | None:
    return await runtime.read(lambda uow: uow.session.get(QueryGuard, receipt_no))


async def guard_state(runtime: Runtime, receipt_no: str) -> tuple[int, datetime | None] | None:
    found = await guard(runtime, receipt_no)
    return None if found is None else (found.failures, found.locked_until)


def answer(error: RuxueError) -> tuple[type[RuxueError], str, str | None, str, tuple[Any, ...]]:
    """Everything a caller can observe about a refusal."""
    return type(error), error.message, error.field, str(error), error.args


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile, in order."""
    seen: list[str] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(runtime.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(runtime.db.engine, "before_cursor_execute", record)


def kinds(seen: list[str]) -> list[str]:
    """The first keyword of each statement but ``BEGIN`` (``SELECT``, ``INSERT`` …): SQLite's
    explicit ``BEGIN``/``BEGIN IMMEDIATE`` has no counterpart on PostgreSQL."""
    return [s.split(" ", 1)[0].upper() for s in seen if not s.upper().startswith("BEGIN")]


WRITES = ("INSERT", "UPDATE", "DELETE")


async def test_lookup_with_the_right_code_shows_a_masked_child_name(
    runtime: Runtime, season: str
) -> None:
    command = submit_command(season)
    submitted = await submit(runtime, command)
    view = await lookup(runtime, submitted.receipt_no.lower(), submitted.query_code)
    assert view.receipt_no == submitted.receipt_no
    assert view.status is Status.SUBMITTED
    assert view.status_label == "已提交"
    assert view.child_name == mask_name(command.child.name) == "张**"
    # The zoned school is not the child's place: the lookup names a school only once admitted.
    assert view.school_name is None


async def test_a_right_code_without_earlier_failures_writes_nothing(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    before = await row_counts(runtime)
    with statements(runtime) as seen:
        await lookup(runtime, submitted.receipt_no, submitted.query_code)
    assert kinds(seen) == ["SELECT"], seen
    assert "BEGIN IMMEDIATE" not in seen, "a read-only transaction, no write lock"
    assert await row_counts(runtime) == before


async def test_a_wrong_code_writes_exactly_one_statement(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, submit_command(season))
    for receipt in (submitted.receipt_no, NEVER_ISSUED):
        with statements(runtime) as seen, pytest.raises(NotFound):
            await lookup(runtime, receipt, wrong(submitted.query_code))
        assert kinds(seen) == ["SELECT", "INSERT"], seen
        [write] = [s.upper() for s in seen if s.split(" ", 1)[0].upper() in WRITES]
        assert write.startswith("INSERT INTO QUERY_GUARD"), write
        assert "ON CONFLICT" in write, "one atomic upsert, not a read-modify-write"
        failures = await guard(runtime, receipt)
        assert failures is not None and failures.failures == 1


async def test_an_unknown_receipt_and_a_wrong_code_answer_byte_for_byte_alike(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    with pytest.raises(NotFound) as wrong_code:
        await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    with pytest.raises(NotFound) as no_such:
        await lookup(runtime, NEVER_ISSUED, submitted.query_code)
    assert answer(wrong_code.value) == answer(no_such.value), "no hint which part was wrong"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in wrong_code.value.message)
    # Both are counted the same way.
    known = await guard_state(runtime, submitted.receipt_no)
    assert known == await guard_state(runtime, NEVER_ISSUED) == (1, None)


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
    before = await row_counts(runtime)
    with pytest.raises(InvalidInput) as caught:
        await lookup(runtime, receipt or submitted.receipt_no, code)
    assert caught.value.field == field
    assert await row_counts(runtime) == before


async def test_too_many_wrong_codes_lock_known_and_unknown_receipts_alike(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    limit = runtime.settings.limits.query_code_max_failures
    assert limit == 5
    for receipt in (submitted.receipt_no, NEVER_ISSUED):
        for attempt in range(limit):
            with pytest.raises(NotFound):
                await lookup(runtime, receipt, wrong(submitted.query_code))
            counted = await guard(runtime, receipt)
            assert counted is not None
            if attempt < limit - 1:
                assert counted.failures == attempt + 1
                assert counted.locked_until is None
        locked = await guard(runtime, receipt)
        assert locked is not None and locked.locked_until is not None
        assert locked.locked_until > utcnow() + timedelta(minutes=1)

    before = await row_counts(runtime)
    guards = [await guard_state(runtime, r) for r in (submitted.receipt_no, NEVER_ISSUED)]
    refusals = []
    for receipt in (submitted.receipt_no, NEVER_ISSUED):
        for code in (submitted.query_code, wrong(submitted.query_code)):
            with pytest.raises(RateLimited) as caught:
                await lookup(runtime, receipt, code)
            refusals.append(answer(caught.value))
    assert len(set(refusals)) == 1, "the right code, a wrong one, known or not: all alike"
    assert await row_counts(runtime) == before, "a locked receipt counts nothing more"
    assert guards == [await guard_state(runtime, r) for r in (submitted.receipt_no, NEVER_ISSUED)]

    # Another application is not affected by the lock.
    other = await submit(runtime, submit_command(season))
    assert (await lookup(runtime, other.receipt_no, other.query_code)).child_name == "张**"


async def test_the_lock_ends_after_its_time(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, submit_command(season))
    for _ in range(runtime.settings.limits.query_code_max_failures):
        with pytest.raises(NotFound):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    with pytest.raises(RateLimited):
        await lookup(runtime, submitted.receipt_no, submitted.query_code)

    def expire(uow: UnitOfWork) -> None:
        uow.session.execute(
            sa.update(QueryGuard)
            .where(col(QueryGuard.receipt_no) == submitted.receipt_no)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
        uow.commit()

    await runtime.write(expire)
    assert (await lookup(runtime, submitted.receipt_no, submitted.query_code)).status is (
        Status.SUBMITTED
    )


async def test_a_right_code_before_the_limit_resets_the_failure_count(
    runtime: Runtime, season: str
) -> None:
    submitted = await submit(runtime, submit_command(season))
    limit = runtime.settings.limits.query_code_max_failures
    for _ in range(limit - 1):
        with pytest.raises(NotFound):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    counted = await guard(runtime, submitted.receipt_no)
    assert counted is not None and counted.failures == limit - 1
    await lookup(runtime, submitted.receipt_no, submitted.query_code)
    assert await guard(runtime, submitted.receipt_no) is None, "the count is forgotten"
    for _ in range(limit - 1):
        with pytest.raises(NotFound):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    await lookup(runtime, submitted.receipt_no, submitted.query_code)  # still not locked


async def test_each_client_is_limited_per_minute(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, submit_command(season))
    allowed = runtime.settings.limits.lookups_per_minute_per_client
    for _ in range(allowed):
        await lookup(runtime, submitted.receipt_no, submitted.query_code, client="198.51.100.7")

    before = await row_counts(runtime)
    for code in (submitted.query_code, wrong(submitted.query_code)):
        with statements(runtime) as seen, pytest.raises(RateLimited):
            await lookup(runtime, submitted.receipt_no, code, client="198.51.100.7")
        assert seen == [], "refused before any database work"
    assert await row_counts(runtime) == before
    assert await guard(runtime, submitted.receipt_no) is None, "the wrong code was not counted"

    # Another client is not affected.
    view = await lookup(runtime, submitted.receipt_no, submitted.query_code, client="203.0.113.9")
    assert view.status is Status.SUBMITTED


async def test_failed_lookups_do_not_bump_the_version(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, submit_command(season))
    before = await stored(runtime, submitted.application_id)
    for _ in range(runtime.settings.limits.query_code_max_failures + 1):
        with pytest.raises((NotFound, RateLimited)):
            await lookup(runtime, submitted.receipt_no, wrong(submitted.query_code))
    after = await stored(runtime, submitted.application_id)
    assert after.version == before.version == submitted.version
    assert after.status is before.status
    assert after.updated_at == before.updated_at


async def test_counter_staff_receive_only_their_own_township(runtime: Runtime, season: str) -> None:
    """Counter staff of 燕矶镇 cannot file an application for 杨叶镇 (they could not see it)."""
    before = await row_counts(runtime)
    command = submit_command(season, township_code="420704102", address="杨叶镇杨叶大道8号")
    with pytest.raises(Forbidden) as caught:
        await submit(runtime, command, COUNTER)
    assert caught.value.field == "townshipCode"
    assert await row_counts(runtime) == before


async def test_only_counter_staff_record_paper_seen(runtime: Runtime, season: str) -> None:
    before = await row_counts(runtime)
    command = replace(submit_command(season), paper_seen=("户口簿",))
    with pytest.raises(InvalidInput) as caught:
        await submit(runtime, command, GUARDIAN)
    assert caught.value.field == "paperSeen"
    assert await row_counts(runtime) == before
