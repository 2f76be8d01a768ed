"""The sample season's SMS templates: every status a guardian must hear of has one, none
carries an ID number or an address, none promises what the system cannot show, and the
admission notice names the school and the report date."""

from __future__ import annotations

from typing import Final

import pytest

from ruxue_core.domain.enums import Status
from ruxue_core.errors import PermanentPluginError
from ruxue_core.notify import ALLOWED_PARAMS, render, template_fields
from ruxue_core.policy import SeasonFile, parse_season

GUARDIAN_HEARS: Final = frozenset(
    {
        Status.SUBMITTED,
        Status.NEEDS_CORRECTION,
        Status.MANUAL_REVIEW,
        Status.APPROVED,
        Status.REJECTED,
        Status.COORDINATING,
        Status.ADMITTED,
        Status.NO_SHOW,
        Status.WITHDRAWN,
        Status.VOIDED,
    }
)
UNKEPT_PROMISES: Final = ("详情请登录", "登录查询原因", "查看原因")
"""No view carries a rejection's reasons: an SMS must not send the guardian to look."""


def test_every_status_a_guardian_must_hear_of_has_a_template(season_file: SeasonFile) -> None:
    templates = season_file.sms.templates
    assert templates.keys() >= GUARDIAN_HEARS, GUARDIAN_HEARS - templates.keys()
    codes = [t.code for t in templates.values()]
    assert len(set(codes)) == len(codes), "template codes are unique"


def test_no_template_names_an_id_number_an_address_or_an_unkept_promise(
    season_file: SeasonFile,
) -> None:
    for status, template in season_file.sms.templates.items():
        assert template_fields(template.text) <= ALLOWED_PARAMS, status
        assert not {"id_number", "address"} & template_fields(template.text)
        for promise in UNKEPT_PROMISES:
            assert promise not in template.text, (status, promise)


def test_the_admission_notice_names_school_and_report_date(season_file: SeasonFile) -> None:
    admitted = season_file.sms.templates[Status.ADMITTED]
    assert {"school", "report_date"} <= template_fields(admitted.text)
    assert season_file.sms.report_date is not None
    text = render(
        admitted.text,
        {
            "child": "张*明",
            "school": "燕矶镇中心小学",
            "report_date": "8月28日",
            "receipt_no": "42070420260701000000001",
        },
    )
    assert "燕矶镇中心小学" in text and "8月28日" in text
    coordinating = season_file.sms.templates[Status.COORDINATING]
    assert "统筹" in coordinating.text


def test_a_missing_parameter_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentPluginError, match="school"):
        render("{child}已被{school}录取", {"child": "张*明"})


def test_an_unknown_placeholder_is_refused_when_the_season_loads(season_file: SeasonFile) -> None:
    data = season_file.model_dump(mode="json")
    data["sms"]["templates"]["admitted"]["text"] = "{child}住在{address}"
    with pytest.raises(Exception, match="address"):
        parse_season(data)
