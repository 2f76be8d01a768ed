"""只跑一次: a family that applied at a counter is never told by SMS to log in, to bring
originals or to come to a registration point again (until the school asks it to report)."""

from __future__ import annotations

from typing import Final

import pytest

from ruxue_core.domain import Season
from ruxue_core.domain.enums import Channel, Status
from ruxue_core.notify import template_for
from ruxue_core.policy import SeasonFile

FORBIDDEN: Final = ("登录", "携带", "报名点", "再次前往办理")
AFTER_ADMISSION: Final = frozenset({Status.ADMITTED, Status.NO_SHOW, Status.ENROLLED})


def _season(season_file: SeasonFile) -> Season:
    info = season_file.season
    return Season(
        code=info.code,
        name=info.name,
        year=info.year,
        stage=info.stage,
        age_cutoff=info.age_cutoff,
        earliest_birth=info.earliest,
        opens_at=info.opens_at,
        closes_at=info.closes_at,
        policy=season_file.policy_json(),
    )


@pytest.mark.parametrize("status", [s for s in Status if s not in AFTER_ADMISSION])
def test_counter_sms_never_ask_the_family_to_come_again(
    season_file: SeasonFile, status: Status
) -> None:
    season = _season(season_file)
    template = template_for(season, status.value, Channel.COUNTER)
    if template is None:
        return
    assert not [word for word in FORBIDDEN if word in template["text"]], template


def test_online_families_are_still_told_to_come_for_manual_review(
    season_file: SeasonFile,
) -> None:
    season = _season(season_file)
    online = template_for(season, Status.MANUAL_REVIEW.value, Channel.ONLINE)
    assert online is not None and "携带原件" in online["text"]
