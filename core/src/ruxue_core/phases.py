"""The season's calendar: which phase (报名, 审核, 派位, 公布, 报到) allows which operation now.

Registration is the season's own window (``season.opens_at``/``closes_at``, which a load may
override); the other phases come from the season file's ``[placement.phases]``. A phase the
season does not schedule opens when registration closes and stays open: placement and what
follows never run while families can still apply. Time is the unit of work's clock
(``uow.now``), so a season is judged by the time its transaction started.

:func:`rehearsal` turns a season file's calendar to one phase around a given time, for the demo
and the tests, which run a whole season in minutes: they load the season again at each step,
exactly as a district would change its calendar, and the operations stay gated.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from ruxue_core.errors import OutOfPhase
from ruxue_core.placement.policy import PlacementPolicy, Window

if TYPE_CHECKING:
    from ruxue_core.domain import Season
    from ruxue_core.policy import SeasonFile


class Phase(StrEnum):
    """The season's phases, in order."""

    REGISTRATION = "registration"
    REVIEW = "review"
    PLACEMENT = "placement"
    PUBLICATION = "publication"
    ENROLLMENT = "enrollment"

    @property
    def label(self) -> str:
        """The phase's Chinese name."""
        return PHASE_LABELS[self]


PHASE_LABELS: Final[dict[Phase, str]] = {
    Phase.REGISTRATION: "报名",
    Phase.REVIEW: "审核",
    Phase.PLACEMENT: "派位",
    Phase.PUBLICATION: "公布录取结果",
    Phase.ENROLLMENT: "报到",
}
BEIJING: Final = timezone(timedelta(hours=8))


def scheduled(season: Season, phase: Phase) -> tuple[datetime, datetime] | None:
    """The phase's window as the season schedules it (registration always is)."""
    if phase is Phase.REGISTRATION:
        return season.opens_at, season.closes_at
    window: Window | None = getattr(PlacementPolicy.of(season.policy).phases, phase.value)
    return None if window is None else (window.opens_at, window.closes_at)


def window_of(
    season: Season, phase: Phase, until: Phase | None = None
) -> tuple[datetime, datetime | None]:
    """When ``phase`` (through ``until``'s close, if given) is open: an unscheduled start is
    registration's close, an unscheduled end is never."""
    first = scheduled(season, phase)
    last = scheduled(season, until or phase)
    opens = first[0] if first else season.closes_at
    return opens, (last[1] if last else None)


def require_phase(
    season: Season,
    phase: Phase,
    now: datetime,
    *,
    until: Phase | None = None,
    field: str = "seasonCode",
) -> None:
    """Refuse unless ``now`` is inside ``phase``'s window (or the span to ``until``).

    :raises OutOfPhase: with a Chinese message naming the window.
    """
    opens, closes = window_of(season, phase, until)
    if opens <= now and (closes is None or now <= closes):
        return
    name = phase.label if until is None else f"{phase.label}至{until.label}"
    if closes is None:
        message = f"不在{name}时间内：须在报名截止（{_local(opens)}）之后办理"
    else:
        message = f"不在{name}时间内（{_local(opens)} 至 {_local(closes)}，北京时间）"
    raise OutOfPhase(message, field=field, phase=phase.value, opens_at=opens, closes_at=closes)


def _local(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def rehearsal(data: SeasonFile, now: datetime, *open_phases: Phase) -> SeasonFile:
    """``data`` with its calendar turned so that exactly ``open_phases`` are open at ``now``
    (open since a minute ago, for a day): the phases before them are over, those after them
    are still to come, and those in between opened and closed a moment ago. Registration (the
    season's window) moves with its phase."""
    order = list(Phase)
    indexes = [order.index(p) for p in open_phases] or [0]
    first, last = min(indexes), max(indexes)
    start = now - timedelta(minutes=1)

    def window(i: int, phase: Phase) -> Window:
        if phase in open_phases:
            opens, closes = start, now + timedelta(days=1)
        elif i < first:
            opens = start - timedelta(days=first - i)
            closes = opens + timedelta(hours=23)
        elif i > last:
            opens = now + timedelta(days=i - last)
            closes = opens + timedelta(days=1)
        else:
            opens, closes = start, now - timedelta(seconds=30)
        return Window(opens_at=opens, closes_at=closes)

    windows = {p: window(i, p) for i, p in enumerate(order)}
    registration = windows[Phase.REGISTRATION]
    phases = data.placement.phases.model_copy(update={p.value: w for p, w in windows.items()})
    season = data.season.model_copy(
        update={"opens_at": registration.opens_at, "closes_at": registration.closes_at}
    )
    placement = data.placement.model_copy(update={"phases": phases})
    return data.model_copy(update={"season": season, "placement": placement})
