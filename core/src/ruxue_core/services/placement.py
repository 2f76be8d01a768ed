"""Placement use cases: run the engine over a season (a draft, or a dry run that stores
nothing), read a run, compare two runs, explain one applicant's result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import PlacementResult, PlacementRun, Season
from ruxue_core.domain.enums import Role, Status
from ruxue_core.errors import InvalidTransition, NotFound
from ruxue_core.lifecycle import load_case
from ruxue_core.permissions import require_role, visible
from ruxue_core.phases import Phase, require_phase
from ruxue_core.placement import Placement, explain, place
from ruxue_core.placement.derive import applicants_for, schools_for
from ruxue_core.placement.lottery import commitment, draw, new_seed, published_order, to_csv
from ruxue_core.placement.policy import PlacementPolicy
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.lottery_draws import PLACEMENT_ROLES, draw_of, season_by_code
from ruxue_core.services.placement_inputs import Inputs, load_inputs
from ruxue_core.uow import UnitOfWork

MAIN: Final = "main"
COORDINATION: Final = "coordination"
RUN_NOT_FOUND: Final = "派位方案不存在"


@dataclass(frozen=True, slots=True)
class ResultView:
    """One applicant's result in a run."""

    application_id: int
    receipt_no: str
    school_code: str | None
    tier: str | None
    reserved: bool
    reason: str | None
    explanation: str


@dataclass(frozen=True, slots=True)
class RunView:
    """A run: its state, counts and (for a stored run) results.

    :ivar id: ``None`` for a dry run (nothing stored).
    :ivar summary: ``applicants``, ``placed``, ``coordinating``, ``by_school``, ``by_tier``.
    """

    id: int | None
    season_code: str
    kind: str
    status: str
    seed_commitment: str | None
    summary: dict[str, object]
    created_at: datetime
    results: list[ResultView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Move:
    """An applicant whose result differs between two runs, and both explanations' headline."""

    receipt_no: str
    before: str | None
    after: str | None
    why_before: str
    why_after: str


def run_engine(uow: UnitOfWork, season: Season, kind: str, seed: str) -> tuple[Placement, Inputs]:
    """Derive the input from the database and place it; returns the placement and the input
    it was derived from (application ids, category and school names)."""
    policy = PlacementPolicy.of(season.policy)
    status = Status.APPROVED if kind == MAIN else Status.COORDINATING
    inputs = load_inputs(uow, season, status)
    codes = [str(c.get("code")) for c in season.policy.get("categories", [])]
    schools = schools_for(policy, inputs.schools, coordination=kind == COORDINATION)
    feeders = {str(f["primary"]): str(f["middle"]) for f in season.policy.get("feeders", [])}
    applicants = applicants_for(policy, codes, inputs.schools, inputs.applications, feeders)
    return place(schools, applicants, draw(seed)), inputs


def summarise(placement: Placement) -> dict[str, object]:
    """Counts of a placement, JSON-ready."""
    outcomes = placement.outcomes.values()
    return {
        "applicants": len(placement.outcomes),
        "placed": sum(1 for o in outcomes if o.school is not None),
        "coordinating": sum(1 for o in outcomes if o.school is None),
        "by_school": dict(sorted(Counter(o.school for o in outcomes if o.school).items())),
        "by_tier": dict(sorted(Counter(o.tier.value for o in outcomes if o.tier).items())),
    }


async def run_placement(
    rt: Runtime,
    season_code: str,
    principal: Principal | None,
    *,
    dry_run: bool = False,
    kind: str = MAIN,
    progress: Callable[[str], None] | None = None,
) -> RunView:
    """Run the engine over the season's approved applications (``kind="main"``) or those in
    coordination over the seats left (``"coordination"``).

    A stored run (a draft until published) needs the revealed seed, checked against its
    commitment. A dry run stores nothing; before the reveal it draws with a throwaway seed.
    :raises Forbidden: not the bureau. :raises InvalidTransition: no revealed seed.
    """
    actor = require_role(principal, *PLACEMENT_ROLES)
    note = progress or (lambda _: None)

    def run(uow: UnitOfWork) -> RunView:
        season = season_by_code(uow, season_code)
        if not dry_run:
            require_run_phase(season, kind, uow.now)
        lottery = draw_of(uow, season)
        seed = lottery.seed if lottery is not None else None
        if seed is not None and lottery is not None and commitment(seed) != lottery.commitment:
            raise InvalidTransition("种子与承诺值不符", field="seasonCode")  # pragma: no cover
        if seed is None and not dry_run:
            raise InvalidTransition("摇号种子尚未公布，只能试运行", field="seasonCode")
        note("派位计算 (placing)")
        placement, inputs = run_engine(uow, season, kind, seed or new_seed())
        summary = summarise(placement)
        if dry_run:
            return RunView(None, season.code, kind, "dry_run", None, summary, uow.now)
        note("保存派位方案 (storing the draft)")
        row = PlacementRun(
            season_id=season.id or 0,
            kind=kind,
            seed_commitment=lottery.commitment if lottery else None,
            summary=summary,
            created_by=actor.id,
            created_at=uow.now,
        )
        uow.insert_now(row)
        assert row.id is not None
        for receipt_no, outcome in placement.outcomes.items():
            uow.insert_at_commit(
                PlacementResult(
                    run_id=row.id,
                    application_id=inputs.ids[receipt_no],
                    receipt_no=receipt_no,
                    school_code=outcome.school,
                    tier=outcome.tier.value if outcome.tier else None,
                    reserved=outcome.reserved,
                    reason=outcome.reason.value if outcome.reason else None,
                    category=outcome.priority.category,
                    lottery_number=f"{outcome.priority.lottery_number:064x}",
                    explanation=explain(
                        placement, receipt_no, inputs.category_names, inputs.school_names
                    ),
                )
            )
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "placement.run",
                "placement_run",
                str(row.id),
                {"season": season.code, "kind": kind, **summary},
                at=uow.now,
            )
        )
        uow.commit()
        return RunView(row.id, season.code, kind, row.status, row.seed_commitment, summary, uow.now)

    return await rt.write(run)


def require_run_phase(season: Season, kind: str, now: datetime) -> None:
    """A main run (and its lottery) belongs to 派位; coordination, over the seats left after
    publication, runs from 公布 through 报到.

    :raises OutOfPhase: outside that window.
    """
    if kind == MAIN:
        require_phase(season, Phase.PLACEMENT, now)
    else:
        require_phase(season, Phase.PUBLICATION, now, until=Phase.ENROLLMENT)


def load_run(uow: UnitOfWork, run_id: int) -> tuple[PlacementRun, Season]:
    """The run and its season, or ``NotFound`` on ``runId``."""
    run = uow.session.get(PlacementRun, run_id)
    season = uow.session.get(Season, run.season_id) if run is not None else None
    if run is None or season is None:
        raise NotFound(RUN_NOT_FOUND, field="runId")
    return run, season


def results_of(uow: UnitOfWork, run_id: int) -> list[PlacementResult]:
    """A run's results by receipt number."""
    return list(
        uow.session.exec(
            select(PlacementResult)
            .where(PlacementResult.run_id == run_id)
            .order_by(col(PlacementResult.receipt_no))
        ).all()
    )


def _view(run: PlacementRun, season: Season, results: list[PlacementResult]) -> RunView:
    return RunView(
        run.id,
        season.code,
        run.kind,
        run.status,
        run.seed_commitment,
        dict(run.summary),
        run.created_at,
        [
            ResultView(
                r.application_id,
                r.receipt_no,
                r.school_code,
                r.tier,
                r.reserved,
                r.reason,
                r.explanation,
            )
            for r in results
        ],
    )


async def placement_run(
    rt: Runtime, run_id: int, principal: Principal | None, *, limit: int = 100
) -> RunView:
    """A stored run with its first ``limit`` results (bureau, admin and auditor)."""
    require_role(principal, *PLACEMENT_ROLES, Role.ADMIN, Role.AUDITOR)

    def read(uow: UnitOfWork) -> RunView:
        run, season = load_run(uow, run_id)
        return _view(run, season, results_of(uow, run_id)[: max(limit, 0)])

    return await rt.read(read)


async def compare_runs(
    rt: Runtime, first_id: int, second_id: int, principal: Principal | None
) -> list[Move]:
    """Who moved where between two runs of a season, with both runs' reasons."""
    require_role(principal, *PLACEMENT_ROLES, Role.ADMIN, Role.AUDITOR)

    def read(uow: UnitOfWork) -> list[Move]:
        load_run(uow, first_id)
        load_run(uow, second_id)
        before = {r.receipt_no: r for r in results_of(uow, first_id)}
        after = {r.receipt_no: r for r in results_of(uow, second_id)}
        moves = []
        for receipt_no in sorted(before.keys() | after.keys()):
            a, b = before.get(receipt_no), after.get(receipt_no)
            if a is not None and b is not None and a.school_code == b.school_code:
                continue
            moves.append(
                Move(
                    receipt_no,
                    a.school_code if a else None,
                    b.school_code if b else None,
                    _headline(a),
                    _headline(b),
                )
            )
        return moves

    return await rt.read(read)


def _headline(result: PlacementResult | None) -> str:
    if result is None:
        return "未参加该次派位"
    return result.explanation.splitlines()[0]


async def explain_placement(
    rt: Runtime, application_id: int, principal: Principal | None
) -> ResultView:
    """An applicant's published result and its explanation: the guardian's own, or staff in
    scope. Drafts are never shown; before publication it is ``NotFound``."""
    actor = require_role(
        principal,
        Role.GUARDIAN,
        Role.COUNTER_STAFF,
        Role.SCHOOL_REVIEWER,
        Role.BUREAU_OFFICER,
        Role.ADMIN,
        Role.AUDITOR,
    )

    def read(uow: UnitOfWork) -> ResultView:
        visible(actor, load_case(uow, application_id), uow.cipher, field="applicationId")
        row = uow.session.exec(
            select(PlacementResult)
            .join(PlacementRun, col(PlacementRun.id) == PlacementResult.run_id)
            .where(
                PlacementResult.application_id == application_id,
                PlacementRun.status == "published",
            )
            .order_by(col(PlacementRun.id).desc())
        ).first()
        if row is None:
            raise NotFound("尚无公布的派位结果", field="applicationId")
        return ResultView(
            row.application_id,
            row.receipt_no,
            row.school_code,
            row.tier,
            row.reserved,
            row.reason,
            row.explanation,
        )

    return await rt.read(read)


async def lottery_list(rt: Runtime, run_id: int, principal: Principal | None) -> str:
    """The run's lottery order as published (CSV ``rank,receipt_no,lottery_number``), which
    ``ruxue lottery verify`` and ``contrib/lottery/verify_lottery.py`` recompute from the seed.

    :raises InvalidTransition: the season's seed is not revealed yet.
    """
    require_role(principal, *PLACEMENT_ROLES, Role.ADMIN, Role.AUDITOR)

    def read(uow: UnitOfWork) -> str:
        _, season = load_run(uow, run_id)
        lottery = draw_of(uow, season)
        if lottery is None or lottery.seed is None:
            raise InvalidTransition("摇号种子尚未公布", field="runId")
        receipts = [r.receipt_no for r in results_of(uow, run_id)]
        return to_csv(published_order(lottery.seed, receipts))

    return await rt.read(read)


async def public_lottery_list(rt: Runtime, run_id: int) -> str:
    """:func:`lottery_list` of a *published* run, for anyone (公示: receipt numbers and lottery
    numbers only): what ``ruxue lottery verify`` checks against the revealed seed.

    :raises NotFound: no such run, or not published (drafts stay private).
    """

    def read(uow: UnitOfWork) -> str:
        run, season = load_run(uow, run_id)
        lottery = draw_of(uow, season)
        if run.status != "published" or lottery is None or lottery.seed is None:
            raise NotFound("派位结果尚未公布", field="runId")
        receipts = [r.receipt_no for r in results_of(uow, run_id)]
        return to_csv(published_order(lottery.seed, receipts))

    return await rt.read(read)
