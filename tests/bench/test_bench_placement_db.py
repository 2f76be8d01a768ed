"""Placement from the database: N approved applications of the sample season (spread over its
eight townships, mixed categories, addresses some of which match a village) → the
``runPlacement`` use case (derive from the rows, place, store the draft run with every result
and explanation) → time and SQL statements, for a dry run and a stored run.

Prints the figures (run with ``-s``); never a pass/fail threshold. SQLite by default,
PostgreSQL with ``RUXUE_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Final

import sqlalchemy as sa
from placement_helpers import SEED, turn
from sqlmodel import col
from statement_counting import counting

from ruxue_core.domain import Application, Assessment
from ruxue_core.domain.enums import Status
from ruxue_core.phases import Phase
from ruxue_core.placement.lottery import commitment
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.lottery_draws import commit_lottery, reveal_lottery
from ruxue_core.services.placement import run_placement
from ruxue_core.testing.factories import BUREAU, COUNTER, child_id_number, submit_command
from ruxue_core.uow import UnitOfWork

APPLICATIONS: Final = 2_000
VILLAGES: Final = {"420704104": ("机场社区", "花湖社区")}


async def _seed(runtime: Runtime, data: SeasonFile, n: int) -> list[int]:
    """``n`` approved applications (submitted through the use case; the review steps are set
    directly, being setup, not what is measured)."""
    rng = random.Random(7)
    townships = sorted({s.township for s in data.schools if s.public and s.township})
    zoned = {
        t: next(s.code for s in data.schools if s.public and s.township == t) for t in townships
    }
    categories = [c.code for c in data.categories]
    season = data.season.code
    ids: list[int] = []
    picks: list[tuple[str, str]] = []
    for i in range(n):
        township = townships[i % len(townships)]
        village = rng.choice(VILLAGES.get(township, ("",)))
        command = submit_command(
            season,
            child_id=child_id_number(i, born=date(2019, 9, 1) + timedelta(days=i // 1000)),
            guardian_id=make_national_id(
                "420704", date(1985, 1, 1) + timedelta(days=i // 1000), i % 1000
            ),
            guardian_name="李四",
            township_code=township,
            address=f"本镇{village}新街{i}号院",
        )
        counter = Principal(f"c-{township}", COUNTER.role, "窗口", region_code=township)
        ids.append((await submit_application(runtime, command, counter)).application_id)
        picks.append((zoned[township], rng.choice(categories)))

    def approve(uow: UnitOfWork) -> None:
        for application_id, (school, category) in zip(ids, picks, strict=True):
            uow.insert_at_commit(
                Assessment(
                    application_id=application_id,
                    decision="verified",
                    reason_code="verified",
                    reason="核验合格",
                    category=category,
                    schools=[school],
                )
            )
        uow.session.execute(
            sa.update(Application)
            .where(col(Application.id).in_(ids))
            .values(status=Status.APPROVED)
        )
        uow.commit()

    await runtime.write(approve)
    return ids


async def test_run_placement_from_the_database(runtime: Runtime, season_file: SeasonFile) -> None:
    await turn(runtime, season_file, Phase.REGISTRATION)
    started = time.perf_counter()
    await _seed(runtime, season_file, APPLICATIONS)
    seeded = time.perf_counter() - started
    await turn(runtime, season_file, Phase.PLACEMENT)
    season = season_file.season.code
    await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    await reveal_lottery(runtime, season, SEED, BUREAU)
    dialect = "postgresql" if runtime.db.postgres else "sqlite"
    print(f"\nplacement from the database ({dialect}), {APPLICATIONS} approved applications")
    print(f"  seeding through submitApplication: {seeded:.1f} s")
    for label, dry in (("dry run (derive + place)", True), ("stored run (+ results)", False)):
        with counting(runtime) as counted:
            wall = time.perf_counter()
            view = await run_placement(runtime, season, BUREAU, dry_run=dry)
            wall = time.perf_counter() - wall
        assert view.summary["applicants"] == APPLICATIONS
        per = wall / APPLICATIONS * 1000
        print(
            f"  {label:<26} {wall:6.2f} s  {per:5.2f} ms/applicant  "
            f"{len(counted.statements):4d} statements  {counted.units} unit(s)"
        )
    print(f"  by tier: {view.summary['by_tier']}")
