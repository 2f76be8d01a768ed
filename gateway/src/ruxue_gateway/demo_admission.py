"""The demo's admission phases, over GraphQL as the bureau and the schools would do it:
seat warnings, a tightened plan (so overflow is coordinated), the lottery committed and
revealed, a dry run and a draft run, publication, enrollment with two no-shows, and the
coordination of the overflow (one placed by hand, the rest by a coordination run)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from ruxue_core.domain.enums import Role
from ruxue_core.domain.types import utcnow
from ruxue_core.phases import Phase, rehearsal
from ruxue_core.placement.lottery import commitment, new_seed
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SchoolInfo, SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.seasons import load_season

if TYPE_CHECKING:
    from ruxue_gateway.demo import _Demo

NO_SHOWS: Final = 2
OVERFLOW: Final = 3
"""Seats cut from the busiest school; one more seat is added elsewhere, so two children
wait in coordination until the no-shows' seats return."""
ERROR: Final = "... on Error { code message }"
WARNINGS: Final = (
    "query W($s: String!) { seatWarnings(seasonCode: $s) { __typename "
    "... on SeatWarningList { warnings { schoolCode verified plan level } } " + ERROR + " } }"
)
COMMIT: Final = (
    "mutation C($input: CommitLotteryInput!) { commitLottery(input: $input) { __typename "
    "... on Lottery { commitment } " + ERROR + " } }"
)
REVEAL: Final = (
    "mutation R($input: RevealLotteryInput!) { revealLottery(input: $input) { __typename "
    "... on Lottery { seed } " + ERROR + " } }"
)
RUN: Final = (
    "mutation P($input: RunPlacementInput!) { runPlacement(input: $input) { __typename "
    "... on PlacementRun { id summary } " + ERROR + " } }"
)
PUBLISH: Final = (
    "mutation U($input: PublishPlacementInput!) { publishPlacement(input: $input) { __typename "
    "... on PlacementPublished { admitted coordinating skipped } " + ERROR + " } }"
)
ENROLL: Final = (
    "mutation E($input: EnrollmentInput!) { confirmEnrollment(input: $input) { __typename "
    "... on EnrollmentChangedPayload { status } " + ERROR + " } }"
)
NO_SHOW: Final = (
    "mutation N($input: EnrollmentInput!) { recordNoShow(input: $input) { __typename "
    "... on EnrollmentChangedPayload { status } " + ERROR + " } }"
)
PLACE: Final = (
    "mutation L($input: PlaceCoordinatedInput!) { placeCoordinated(input: $input) { "
    "__typename ... on EnrollmentChangedPayload { status schoolCode } " + ERROR + " } }"
)
STATE: Final = (
    "query One($id: ID!) { application(id: $id) { __typename "
    "... on Application { status version schoolCode } ... on Error { code } } }"
)


def tightened(
    data: SeasonFile, verified: dict[str, int], approved: int
) -> tuple[SeasonFile, dict[str, int]]:
    """Plans equal to each school's verified applicants, less :data:`OVERFLOW` at the busiest
    school and one more seat at another (plus a seat there for each approved applicant no
    school counts, having no zoned school): the overflow spills over, and two wait."""
    plans = {s.code: verified.get(s.code, 0) for s in data.schools}
    unzoned = max(approved - sum(plans.values()), 0)
    busiest = max(plans, key=lambda code: (plans[code], code))
    cut = min(OVERFLOW, plans[busiest])
    plans[busiest] -= cut
    other = next(code for code in sorted(plans) if code != busiest)
    plans[other] += unzoned + (1 if cut == OVERFLOW else 0)
    return data.model_copy(
        update={"schools": [_plan(s, plans[s.code]) for s in data.schools]}
    ), plans


def _plan(school: SchoolInfo, plan: int) -> SchoolInfo:
    classes = math.ceil(plan / 45)
    return school.model_copy(
        update={"classes": classes, "class_size": 45, "reserved": classes * 45 - plan}
    )


def _ok(result: dict[str, Any], typename: str, what: str) -> dict[str, Any]:
    if result["__typename"] != typename:
        raise RuntimeError(f"{what}: {result}")
    return result


class Admission:
    """The admission phases of one demo run."""

    def __init__(
        self,
        demo: _Demo,
        observer: Runtime,
        data: SeasonFile,
        window: tuple[datetime, datetime],
    ) -> None:
        self.demo = demo
        self.observer = observer
        self.data = data
        self.window = window
        self.season = demo.season_code
        self.loaded = data
        """The season file as last loaded (plans tightened by :meth:`plan`)."""
        self.report: dict[str, Any] = {}
        self.freed: list[str] = []
        """Schools of the no-shows, whose seats return to coordination."""

    async def _bureau(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        data = await self.demo._graphql(self.demo.bureau, query, variables)
        (value,) = data.values()
        assert isinstance(value, dict)
        return value

    async def _levels(self) -> tuple[dict[str, int], dict[str, int]]:
        result = _ok(await self._bureau(WARNINGS, {"s": self.season}), "SeatWarningList", "warn")
        rows = result["warnings"]
        return {w["schoolCode"]: w["verified"] for w in rows}, dict(
            Counter(w["level"] for w in rows)
        )

    async def plan(self, ids: list[str]) -> None:
        """Seat warnings, then the district tightens the plans to the verified numbers."""
        verified, before = await self._levels()
        states = await self._states(ids)
        approved = sum(1 for s in states.values() if s["status"] == "APPROVED")
        season, plans = tightened(self.data, verified, approved)
        await load_season(self.observer, season, Principal.system(), window=self.window)
        self.loaded = season
        _, after = await self._levels()
        self.report["seat_warnings"] = {"before": before, "after_tightening": after}
        self.report["plans"] = {code: n for code, n in sorted(plans.items()) if n}

    async def turn(self, *phases: Phase) -> None:
        """Turn the season's calendar to ``phases`` (open now, the earlier ones over): the
        demo runs a season in minutes, so it changes the calendar as a district would, and
        every operation stays gated by its phase."""
        season = rehearsal(self.loaded, utcnow(), *phases)
        await load_season(self.observer, season, Principal.system())
        self.report.setdefault("calendar", []).append([p.value for p in phases])

    async def lottery(self) -> None:
        """Commit SHA-256(seed), then reveal the seed (the draw ceremony in between)."""
        await self.turn(Phase.PLACEMENT)
        seed = new_seed()
        commit = {"seasonCode": self.season, "commitment": commitment(seed)}
        _ok(await self._bureau(COMMIT, {"input": commit}), "Lottery", "commit")
        reveal = {"seasonCode": self.season, "seed": seed}
        _ok(await self._bureau(REVEAL, {"input": reveal}), "Lottery", "reveal")
        self.report["lottery"] = {"commitment": commitment(seed), "seed": seed}

    async def _run_and_publish(self, kind: str) -> dict[str, Any]:
        run = {"seasonCode": self.season, "kind": kind}
        draft = _ok(await self._bureau(RUN, {"input": run}), "PlacementRun", "run")
        if kind == "MAIN":
            await self.turn(Phase.PUBLICATION)
        published = await self._bureau(PUBLISH, {"input": {"runId": draft["id"]}})
        _ok(published, "PlacementPublished", "publish")
        return {"run_id": draft["id"], "summary": draft["summary"], **published}

    async def place(self) -> None:
        """A dry run, then the main run, published."""
        dry = {"seasonCode": self.season, "dryRun": True}
        _ok(await self._bureau(RUN, {"input": dry}), "PlacementRun", "dry run")
        self.report["main_run"] = await self._run_and_publish("MAIN")

    async def _states(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        states = {}
        for application_id in ids:
            state = await self._bureau(STATE, {"id": application_id})
            states[application_id] = state
        return states

    async def _school_step(self, query: str, application_id: str, school: str) -> None:
        token = self.demo._staff(Role.SCHOOL_REVIEWER, township=None, school=school)
        data = await self.demo._graphql(token, query, {"input": {"applicationId": application_id}})
        (result,) = data.values()
        _ok(result, "EnrollmentChangedPayload", "enrollment")

    async def enroll(self, ids: list[str]) -> None:
        """Schools confirm every admitted child but :data:`NO_SHOWS`, who do not report."""
        await self.turn(Phase.ENROLLMENT)
        states = await self._states(ids)
        admitted = sorted(i for i, s in states.items() if s["status"] == "ADMITTED")
        no_shows = admitted[:NO_SHOWS]
        for application_id in admitted:
            query = NO_SHOW if application_id in no_shows else ENROLL
            await self._school_step(query, application_id, states[application_id]["schoolCode"])
        self.report["no_shows"] = len(no_shows)
        self.freed = [states[i]["schoolCode"] for i in no_shows]

    async def coordinate(self, ids: list[str]) -> None:
        """The first coordinating child placed by hand at a freed seat, the rest by a
        coordination run; then their schools confirm them."""
        states = await self._states(ids)
        waiting = sorted(i for i, s in states.items() if s["status"] == "COORDINATING")
        by_hand = 0
        if waiting and self.freed:
            place = {"applicationId": waiting[0], "schoolCode": self.freed[0]}
            _ok(await self._bureau(PLACE, {"input": place}), "EnrollmentChangedPayload", "place")
            by_hand = 1
        self.report["coordination"] = {
            "waiting": len(waiting),
            "placed_by_hand": by_hand,
            "run": await self._run_and_publish("COORDINATION") if waiting[by_hand:] else None,
        }
        placed = await self._states(waiting)
        for application_id, state in placed.items():
            if state["status"] == "ADMITTED":
                await self._school_step(ENROLL, application_id, state["schoolCode"])
