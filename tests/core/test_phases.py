"""The season's calendar gates the operations: registration (submit, drafts, private choice),
派位 (lottery, stored runs), 公布 (publication), 报到 (enrollment); coordination from 公布
through 报到. A refusal is ``OutOfPhase`` naming the window; a phase the season does not
schedule opens when registration closes. Dry runs store nothing and run at any time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from placement_helpers import SEED, approved, open_tight_season, tight, turn
from sqlmodel import select

from ruxue_core.domain import Season
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import OutOfPhase
from ruxue_core.phases import Phase, rehearsal, scheduled
from ruxue_core.placement.lottery import commitment
from ruxue_core.placement.policy import Phases
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.drafts import StartDraft, start_draft
from ruxue_core.services.lottery_draws import commit_lottery, reveal_lottery
from ruxue_core.services.placement import run_placement
from ruxue_core.services.seasons import load_season
from ruxue_core.testing.factories import BUREAU, GUARDIAN
from ruxue_core.uow import UnitOfWork


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.value)
async def test_a_rehearsal_opens_exactly_its_phase(
    runtime: Runtime, season_file: SeasonFile, phase: Phase
) -> None:
    await load_season(runtime, rehearsal(season_file, utcnow(), phase), Principal.system())

    def open_now(uow: UnitOfWork) -> list[Phase]:

        season = uow.session.exec(select(Season)).one()
        return [
            p for p in Phase if (w := scheduled(season, p)) is not None and w[0] <= uow.now <= w[1]
        ]

    assert await runtime.read(open_now) == [phase]


async def test_the_sample_calendar_names_the_window_it_keeps_to(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    """Loaded as written (July–August 2026), the sample season is past every phase now."""
    await load_season(runtime, season_file, Principal.system())
    season = season_file.season.code
    with pytest.raises(OutOfPhase) as refused:
        await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    error = refused.value
    assert (error.code, error.phase, error.field) == ("out_of_phase", "placement", "seasonCode")
    assert error.message == "不在派位时间内（2026-07-27 09:00 至 2026-07-31 17:30，北京时间）"
    with pytest.raises(OutOfPhase) as closed:
        await start_draft(runtime, StartDraft(season), GUARDIAN)
    assert closed.value.phase == "registration"


async def test_each_step_waits_for_its_phase(runtime: Runtime, season_file: SeasonFile) -> None:
    season = await open_tight_season(runtime, season_file)
    await approved(runtime, season, 0)
    dry = await run_placement(runtime, season, BUREAU, dry_run=True)  # any time: stores nothing
    assert dry.id is None
    for phase in (Phase.REGISTRATION, Phase.REVIEW, Phase.PUBLICATION, Phase.ENROLLMENT):
        await turn(runtime, tight(season_file), phase)
        with pytest.raises(OutOfPhase):
            await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    await turn(runtime, tight(season_file), Phase.PLACEMENT)
    await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    await reveal_lottery(runtime, season, SEED, BUREAU)
    assert (await run_placement(runtime, season, BUREAU)).id is not None
    with pytest.raises(OutOfPhase):  # coordination follows publication
        await run_placement(runtime, season, BUREAU, kind="coordination")
    await turn(runtime, tight(season_file), Phase.ENROLLMENT)
    with pytest.raises(OutOfPhase):
        await run_placement(runtime, season, BUREAU)
    assert (await run_placement(runtime, season, BUREAU, kind="coordination")).id is not None


async def test_an_unscheduled_phase_opens_when_registration_closes(
    runtime: Runtime, season_file: SeasonFile
) -> None:
    """A season without ``[placement.phases]`` never places while families can still apply."""
    bare = tight(season_file)
    bare = bare.model_copy(
        update={"placement": bare.placement.model_copy(update={"phases": Phases()})}
    )
    now = utcnow()
    await load_season(
        runtime, bare, Principal.system(), window=(now - timedelta(days=1), now + timedelta(days=1))
    )
    season = bare.season.code
    with pytest.raises(OutOfPhase) as refused:
        await commit_lottery(runtime, season, commitment(SEED), BUREAU)
    assert refused.value.closes_at is None and "须在报名截止" in refused.value.message
    await load_season(
        runtime, bare, Principal.system(), window=(now - timedelta(days=2), now - timedelta(days=1))
    )
    assert (await commit_lottery(runtime, season, commitment(SEED), BUREAU)).commitment
