"""Admission end to end in the core: lottery commit/reveal, runs (dry, draft), comparison,
publication in one transaction (admitted with notice numbers or coordinating, SMS, provincial
result records), refusal of a second publication, enrollment, no-show, coordination."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from conftest import SAMPLE_SEASON
from openpyxl import load_workbook
from placement_helpers import SEED, approved, open_tight_season, tight, turn
from sqlmodel import col, select
from statement_counting import counting

from ruxue_core.domain import Admission, Application, AuditEvent, CaseRecord, Message
from ruxue_core.domain.enums import Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import (
    Duplicate,
    Forbidden,
    Ineligible,
    InvalidInput,
    InvalidTransition,
    NotFound,
    OutOfPhase,
)
from ruxue_core.phases import Phase
from ruxue_core.placement.lottery import commitment, published_order, to_csv, verify
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile, read_season_file
from ruxue_core.runtime import Runtime
from ruxue_core.services.admission import (
    confirm_enrollment,
    place_coordinated,
    publish_placement,
    record_care_claim,
)
from ruxue_core.services.applications import WithdrawApplication, withdraw_application
from ruxue_core.services.lookup import lookup_status
from ruxue_core.services.lottery_draws import commit_lottery, lottery_view, reveal_lottery
from ruxue_core.services.placement import (
    compare_runs,
    explain_placement,
    placement_run,
    run_placement,
)
from ruxue_core.services.publication import publication_list, to_xlsx
from ruxue_core.services.publication import to_csv as list_csv
from ruxue_core.services.seasons import load_season
from ruxue_core.services.seat_warnings import seat_warnings
from ruxue_core.testing.factories import BUREAU, COUNTER, GUARDIAN, SCHOOL_REVIEWER
from ruxue_core.uow import UnitOfWork


async def statuses(runtime: Runtime, ids: list[int]) -> dict[int, Status]:
    """Each application's status."""

    def read(uow: UnitOfWork) -> dict[int, Status]:
        rows = uow.session.exec(select(Application).where(col(Application.id).in_(ids))).all()
        return {a.id or 0: a.status for a in rows}

    return await runtime.read(read)


@pytest.fixture
def tight_file(season_file: SeasonFile) -> SeasonFile:
    """The tight season, as :func:`open_tight_season` loads it."""
    return tight(season_file)


@pytest.fixture
async def five(runtime: Runtime, season_file: SeasonFile) -> tuple[str, list[int]]:
    """Five approved families zoned to LK-YJ-01 (3 seats; neighbour LK-YY-01 has 1)."""
    season = await open_tight_season(runtime, season_file)
    ids = [i for family in range(5) for i in await approved(runtime, season, family)]
    return season, ids


async def test_lottery_commit_and_reveal(
    runtime: Runtime, five: tuple[str, list[int]], tight_file: SeasonFile
) -> None:
    season, _ = five
    assert await lottery_view(runtime, season) is None
    with pytest.raises(OutOfPhase) as early:  # registration is still open
        await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    assert early.value.phase == "placement" and "不在派位时间内" in early.value.message
    await turn(runtime, tight_file, Phase.PLACEMENT)
    with pytest.raises(Forbidden):
        await commit_lottery(runtime, season, commitment(SEED), COUNTER)
    with pytest.raises(InvalidInput):
        await commit_lottery(runtime, season, "xyz", BUREAU)
    view = await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    assert view.commitment == commitment(SEED) and view.seed is None
    with pytest.raises(Duplicate):
        await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    with pytest.raises(InvalidTransition):
        await run_placement(runtime, season, BUREAU)  # the seed is not revealed yet
    dry = await run_placement(runtime, season, BUREAU, dry_run=True)
    assert dry.id is None and dry.summary["applicants"] == 5
    with pytest.raises(InvalidInput):
        await reveal_lottery(runtime, season, "b" * 64, BUREAU)
    revealed = await reveal_lottery(runtime, season, SEED, BUREAU)
    assert revealed.seed == SEED
    with pytest.raises(InvalidTransition):
        await reveal_lottery(runtime, season, SEED, BUREAU)

    def audited(uow: UnitOfWork) -> list[str]:
        rows = uow.session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).like("lottery.%"))
        ).all()
        return sorted(rows)

    assert await runtime.read(audited) == ["lottery.commit", "lottery.reveal"]


async def _publishing(runtime: Runtime) -> None:
    """The tight season turned to 公布."""
    await turn(runtime, tight(read_season_file(SAMPLE_SEASON)), Phase.PUBLICATION)


async def _revealed(runtime: Runtime, season: str) -> None:
    """The tight season turned to 派位, its lottery committed and revealed."""
    await turn(runtime, tight(read_season_file(SAMPLE_SEASON)), Phase.PLACEMENT)
    await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    await reveal_lottery(runtime, season, SEED, BUREAU)


async def test_seat_warnings_turn_red_when_verified_exceed_the_plan(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    season, _ = five
    warnings = {w.school_code: w for w in await seat_warnings(runtime, season, BUREAU)}
    assert (warnings["LK-YJ-01"].verified, warnings["LK-YJ-01"].plan) == (5, 3)
    assert warnings["LK-YJ-01"].level == "red"
    assert warnings["LK-YY-01"].level == "green"
    with pytest.raises(Forbidden):
        await seat_warnings(runtime, season, SCHOOL_REVIEWER)


async def test_publication_admits_coordinates_and_enrollment_follows(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    season, ids = five
    await _revealed(runtime, season)
    first = await run_placement(runtime, season, BUREAU)
    second = await run_placement(runtime, season, BUREAU)
    assert first.id is not None and second.id is not None
    assert first.summary == second.summary
    assert first.summary["by_school"] == {"LK-YJ-01": 3, "LK-YY-01": 1}
    assert await compare_runs(runtime, first.id, second.id, BUREAU) == []
    run = await placement_run(runtime, first.id, BUREAU)
    assert run.status == "draft" and len(run.results) == 5
    assert all(r.explanation.startswith("办件") for r in run.results)
    admitted = next(r for r in run.results if r.school_code == "LK-YJ-01")
    assert "录取到 燕矶镇中心小学（LK-YJ-01）" in admitted.explanation  # named, not a bare code
    # Drafts stay private: nothing to explain before publication.
    with pytest.raises(NotFound):
        await explain_placement(runtime, ids[0], BUREAU)

    with pytest.raises(OutOfPhase):  # still 派位: results are published in 公布
        await publish_placement(runtime, first.id, BUREAU)
    await _publishing(runtime)
    published = await publish_placement(runtime, first.id, BUREAU)
    assert (published.admitted, published.coordinating, published.skipped) == (4, 1, 0)
    with pytest.raises(InvalidTransition):
        await publish_placement(runtime, first.id, BUREAU)
    with pytest.raises(InvalidTransition):
        await publish_placement(runtime, second.id, BUREAU)
    states = await statuses(runtime, ids)
    assert sorted(states.values()) == sorted([Status.ADMITTED] * 4 + [Status.COORDINATING])

    def effects(uow: UnitOfWork) -> tuple[list[str], list[str], list[object]]:
        notices = list(uow.session.exec(select(Admission.notice_no)).all())
        templates = list(
            uow.session.exec(
                select(Message.template).where(
                    col(Message.template).in_(["RX_ADMITTED", "RX_COORDINATING"])
                )
            ).all()
        )
        results = uow.session.exec(select(CaseRecord).where(CaseRecord.kind == "result")).all()
        return notices, templates, [r.payload.get("certificate_no") for r in results]

    notices, templates, certificates = await runtime.read(effects)
    assert sorted(notices)[0] == "LKLQ2026-LK-YJ-01-0001" and len(notices) == 4
    assert sorted(templates) == ["RX_ADMITTED"] * 4 + ["RX_COORDINATING"]
    assert sorted(str(c) for c in certificates) == sorted(notices)

    by_school = {r.application_id: r.school_code for r in run.results}
    at_yj = [i for i in ids if by_school[i] == "LK-YJ-01"]
    waiting = next(i for i in ids if by_school[i] is None)
    explained = await explain_placement(runtime, waiting, BUREAU)
    assert "统筹" in explained.explanation

    with pytest.raises(OutOfPhase):  # 报到 has not opened yet
        await confirm_enrollment(runtime, at_yj[0], SCHOOL_REVIEWER)
    await turn(runtime, tight(read_season_file(SAMPLE_SEASON)), Phase.ENROLLMENT)
    enrolled = await confirm_enrollment(runtime, at_yj[0], SCHOOL_REVIEWER)
    assert enrolled.status is Status.ENROLLED
    with pytest.raises(Ineligible):  # LK-YJ-01 is full
        await place_coordinated(runtime, waiting, "LK-YJ-01", BUREAU)
    gone = await confirm_enrollment(runtime, at_yj[1], SCHOOL_REVIEWER, no_show=True)
    assert gone.status is Status.NO_SHOW
    placed = await place_coordinated(runtime, waiting, "LK-YJ-01", BUREAU)
    assert (placed.status, placed.school_code) == (Status.ADMITTED, "LK-YJ-01")
    assert placed.notice_no == "LKLQ2026-LK-YJ-01-0004"
    with pytest.raises(NotFound):  # another school's reviewer
        await confirm_enrollment(
            runtime,
            waiting,
            SCHOOL_REVIEWER.__class__("r", SCHOOL_REVIEWER.role, "x", school_code="LK-YY-01"),
        )

    rows = await publication_list(runtime, season, "LK-YJ-01", SCHOOL_REVIEWER)
    assert len(rows) == 4 and all(r.child == "张**" for r in rows)
    text = list_csv(rows)
    assert "张小明" not in text and rows[0].receipt_no in text
    sheet = load_workbook(io.BytesIO(to_xlsx(rows))).active
    assert sheet is not None and sheet.max_row == 5
    with pytest.raises(NotFound):
        await publication_list(runtime, season, "LK-YY-01", SCHOOL_REVIEWER)


async def test_a_published_order_verifies(runtime: Runtime, five: tuple[str, list[int]]) -> None:
    season, _ = five
    await _revealed(runtime, season)
    run = await run_placement(runtime, season, BUREAU)
    assert run.id is not None
    receipts = [r.receipt_no for r in (await placement_run(runtime, run.id, BUREAU)).results]
    listed = to_csv(published_order(SEED, receipts))
    assert verify(SEED, listed, commitment(SEED)).ok
    lines = listed.splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    assert not verify(SEED, "\n".join(lines), commitment(SEED)).ok


async def test_a_guardian_sees_only_their_own_published_result(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    season, ids = five
    await _revealed(runtime, season)
    run = await run_placement(runtime, season, BUREAU)
    assert run.id is not None
    await _publishing(runtime)
    await publish_placement(runtime, run.id, BUREAU)
    with pytest.raises(NotFound):  # GUARDIAN is not these families' guardian
        await explain_placement(runtime, ids[0], GUARDIAN)
    with pytest.raises(Forbidden):
        await publish_placement(runtime, run.id, SCHOOL_REVIEWER)


async def test_a_care_claim_takes_a_reserved_seat(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    """LK-YJ-01's three seats are all reserved (two military, one martyr) in the tight
    season: a third-category child with a confirmed military claim is admitted on one ahead
    of first-category children, whom the other seats take."""
    season = await open_tight_season(runtime, season_file)
    first = [i for family in range(4) for i in await approved(runtime, season, family)]
    (cared,) = await approved(runtime, season, 9, category="C")
    with pytest.raises(InvalidInput):
        await record_care_claim(runtime, cared, "astronaut", BUREAU)
    with pytest.raises(Forbidden):
        await record_care_claim(runtime, cared, "military", SCHOOL_REVIEWER)
    await record_care_claim(runtime, cared, "military", BUREAU)
    await _revealed(runtime, season)
    run = await run_placement(runtime, season, BUREAU)
    assert run.id is not None
    results = {r.application_id: r for r in (await placement_run(runtime, run.id, BUREAU)).results}
    assert (results[cared].school_code, results[cared].reserved) == ("LK-YJ-01", True)
    assert "政策性照顾" in results[cared].explanation
    at_yj = [i for i in first if results[i].school_code == "LK-YJ-01"]
    assert len(at_yj) == 2


async def test_two_runs_published_at_once_admit_once(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    """Two drafts of one season published concurrently: one publication, one refusal."""
    season, _ = five
    await _revealed(runtime, season)
    runs = [await run_placement(runtime, season, BUREAU) for _ in range(2)]
    await _publishing(runtime)
    outcomes = await asyncio.gather(
        *(publish_placement(runtime, run.id or 0, BUREAU) for run in runs),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidTransition", "Published"]

    def admissions(uow: UnitOfWork) -> int:
        return len(uow.session.exec(select(Admission.id)).all())

    assert await runtime.read(admissions) == 4


async def test_the_public_lookup_names_the_admitted_school(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    season, ids = five
    await _revealed(runtime, season)
    run = await run_placement(runtime, season, BUREAU)
    await _publishing(runtime)
    await publish_placement(runtime, run.id or 0, BUREAU)

    def credentials(uow: UnitOfWork) -> list[tuple[str, str, Status]]:
        rows = uow.session.exec(select(Application).where(col(Application.id).in_(ids))).all()
        return [
            (a.receipt_no, uow.cipher.decrypt(a.query_code_ct, purpose="query_code"), a.status)
            for a in rows
        ]

    for receipt_no, query_code, status in await runtime.read(credentials):
        view = await lookup_status(runtime, receipt_no, query_code)
        if status is Status.ADMITTED:
            assert view.school_name in {"燕矶镇中心小学", "杨叶镇中心小学"}
        else:
            assert view.status is Status.COORDINATING and view.school_name is None


async def test_seat_warnings_close_with_registration(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    window = (utcnow() - timedelta(days=3), utcnow() - timedelta(days=1))
    await load_season(runtime, season_file, Principal.system(), window=window)
    with pytest.raises(InvalidTransition):
        await seat_warnings(runtime, season_file.season.code, BUREAU)


async def test_publication_is_one_unit_with_one_update_per_application(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    """One unit of work: the run's guarded update, a few reads, one status update per
    application and the batched inserts (audit, case records, messages, admissions, jobs)."""
    season, _ = five
    await _revealed(runtime, season)
    run = await run_placement(runtime, season, BUREAU)
    await _publishing(runtime)
    with counting(runtime) as counted:
        await publish_placement(runtime, run.id or 0, BUREAU)
    updates = [s for s in counted.statements if s.lstrip().upper().startswith("UPDATE APPLICATION")]
    assert counted.units == 1
    assert len(updates) == 5
    assert len(counted.statements) <= 5 + 14, "\n".join(counted.statements)


async def test_comparing_runs_shows_who_moved_and_why(
    runtime: Runtime, five: tuple[str, list[int]]
) -> None:
    """A family withdraws between two runs: its seat goes to the child who was waiting."""
    season, ids = five
    await _revealed(runtime, season)
    first = await run_placement(runtime, season, BUREAU)
    assert first.id is not None
    before = {r.application_id: r for r in (await placement_run(runtime, first.id, BUREAU)).results}
    leaving = next(i for i in ids if before[i].school_code == "LK-YJ-01")
    waiting = next(i for i in ids if before[i].school_code is None)
    await withdraw_application(runtime, WithdrawApplication(leaving), COUNTER)
    second = await run_placement(runtime, season, BUREAU)
    moves = {m.receipt_no: m for m in await compare_runs(runtime, first.id, second.id or 0, BUREAU)}
    gone = moves[before[leaving].receipt_no]
    assert (gone.before, gone.after, gone.why_after) == ("LK-YJ-01", None, "未参加该次派位")
    moved = moves[before[waiting].receipt_no]
    assert moved.before is None and moved.after is not None
    assert "统筹" in moved.why_before and "录取到" in moved.why_after
