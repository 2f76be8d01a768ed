"""The season's lottery, committed before the draw and revealed after (see
:mod:`ruxue_core.placement.lottery` for the encoding anyone can check)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlmodel import select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import LotteryDraw, Season
from ruxue_core.domain.enums import Role
from ruxue_core.errors import Duplicate, InvalidInput, InvalidTransition, NotFound
from ruxue_core.permissions import require_role
from ruxue_core.phases import Phase, require_phase
from ruxue_core.placement.lottery import commitment
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_code
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork

PLACEMENT_ROLES: Final = (Role.BUREAU_OFFICER, Role.SYSTEM)
"""Who runs the lottery and placement, and publishes: the bureau (and the system's CLI)."""
HEX64: Final = re.compile(r"[0-9a-f]{64}")
SEED: Final = re.compile(r"[\x21-\x7e]{16,128}")


@dataclass(frozen=True, slots=True)
class LotteryView:
    """A season's lottery as the public sees it: the commitment, and the seed once revealed."""

    season_code: str
    commitment: str
    committed_at: datetime
    seed: str | None
    revealed_at: datetime | None

    @classmethod
    def of(cls, season: Season, draw: LotteryDraw) -> LotteryView:
        """Map a row."""
        return cls(season.code, draw.commitment, draw.committed_at, draw.seed, draw.revealed_at)


def season_by_code(uow: UnitOfWork, code: str) -> Season:
    """The season, or ``NotFound`` on field ``seasonCode`` (``InvalidInput`` for a code of
    the wrong shape, before the database sees it)."""
    validate_code(code, field="seasonCode", message="招生季编码格式不正确")
    season = uow.session.exec(select(Season).where(Season.code == code)).first()
    if season is None:
        raise NotFound("招生季不存在", field="seasonCode")
    return season


def draw_of(uow: UnitOfWork, season: Season) -> LotteryDraw | None:
    """The season's lottery row, if committed."""
    return uow.session.exec(select(LotteryDraw).where(LotteryDraw.season_id == season.id)).first()


async def commit_lottery(
    rt: Runtime, season_code: str, commitment_hex: str, principal: Principal | None
) -> LotteryView:
    """The bureau publishes SHA-256(seed) before the draw, keeping the seed to itself.

    :raises Forbidden: not the bureau. :raises InvalidInput: not 64 lowercase hex digits.
    :raises Duplicate: the season's lottery is already committed. :raises NotFound: season.
    """
    actor = require_role(principal, *PLACEMENT_ROLES)
    value = commitment_hex.strip().lower()
    if not HEX64.fullmatch(value):
        raise InvalidInput("承诺值应为 64 位十六进制 SHA-256 摘要", field="commitment")

    def commit(uow: UnitOfWork) -> LotteryView:
        season = season_by_code(uow, season_code)
        require_phase(season, Phase.PLACEMENT, uow.now)
        if draw_of(uow, season) is not None:
            raise Duplicate("本招生季的摇号承诺值已公布", field="seasonCode")
        draw = LotteryDraw(
            season_id=season.id or 0, commitment=value, committed_by=actor.id, committed_at=uow.now
        )
        uow.session.add(draw)
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "lottery.commit",
                "season",
                season.code,
                {"commitment": value},
                at=uow.now,
            )
        )
        uow.commit()
        return LotteryView.of(season, draw)

    return await rt.write(commit)


async def reveal_lottery(
    rt: Runtime, season_code: str, seed: str, principal: Principal | None
) -> LotteryView:
    """The bureau reveals the seed after the draw; it must match the commitment.

    :raises InvalidInput: the seed does not hash to the commitment (nothing is stored).
    :raises InvalidTransition: nothing committed yet, or already revealed.
    """
    actor = require_role(principal, *PLACEMENT_ROLES)
    if not SEED.fullmatch(seed):
        raise InvalidInput("种子应为 16–128 个可见 ASCII 字符", field="seed")

    def reveal(uow: UnitOfWork) -> LotteryView:
        season = season_by_code(uow, season_code)
        require_phase(season, Phase.PLACEMENT, uow.now)
        draw = draw_of(uow, season)
        if draw is None:
            raise InvalidTransition("尚未公布摇号承诺值，不能公布种子", field="seasonCode")
        if draw.seed is not None:
            raise InvalidTransition("种子已公布", field="seasonCode")
        if commitment(seed) != draw.commitment:
            raise InvalidInput("种子与事先公布的承诺值 SHA-256(seed) 不符", field="seed")
        draw.seed, draw.revealed_by, draw.revealed_at = seed, actor.id, uow.now
        uow.session.add(draw)
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "lottery.reveal",
                "season",
                season.code,
                {"commitment": draw.commitment, "seed": seed},
                at=uow.now,
            )
        )
        uow.commit()
        return LotteryView.of(season, draw)

    return await rt.write(reveal)


async def lottery_view(rt: Runtime, season_code: str) -> LotteryView | None:
    """The season's lottery for anyone (public): ``None`` before the commitment."""

    def read(uow: UnitOfWork) -> LotteryView | None:
        season = season_by_code(uow, season_code)
        draw = draw_of(uow, season)
        return None if draw is None else LotteryView.of(season, draw)

    return await rt.read(read)
