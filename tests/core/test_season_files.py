"""Season files and the spreadsheets they import: the samples load; headers in Chinese or
English, CSV in UTF-8 or GB18030, XLSX by worksheet; every bad row is reported with its
file, row and field, all at once, in Chinese with a stable English code."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from ruxue_core.domain.enums import Stage
from ruxue_core.errors import InvalidInput
from ruxue_core.policy import read_season_file
from ruxue_core.season_issues import SeasonFileInvalid

SEASONS = Path(__file__).resolve().parents[2] / "contrib" / "seasons"
LISTS = "linkong-2026-middle/lists.xlsx"
SCHOOLS_CSV = "linkong-2026-middle/schools.csv"
ZONES_CSV = "linkong-2026-middle/zones.csv"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def middle(tmp_path: Path) -> Path:
    """A copy of the sample middle-school season to spoil."""
    shutil.copy(SEASONS / "linkong-2026-middle.toml", tmp_path)
    shutil.copytree(SEASONS / "linkong-2026-middle", tmp_path / "linkong-2026-middle")
    return tmp_path / "linkong-2026-middle.toml"


def issues_of(path: Path) -> set[tuple[str, int | None, str, str]]:
    with pytest.raises(SeasonFileInvalid) as caught:
        read_season_file(path)
    for issue in caught.value.issues:
        assert CJK.search(issue.message), issue
        assert re.fullmatch(r"[a-z_]+", issue.code), issue
    return {(i.file, i.row, i.field, i.code) for i in caught.value.issues}


def set_cells(path: Path, sheet: str, cells: dict[str, str | int]) -> None:
    workbook = load_workbook(path)
    for ref, value in cells.items():
        workbook[sheet][ref] = value
    workbook.save(path)


def append_lines(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))


def test_the_sample_seasons_load() -> None:
    primary = read_season_file(SEASONS / "linkong-2026-primary.toml")
    assert len(primary.schools) == 12 and primary.feeders == []
    assert [o.school for o in primary.placement.private] == ["LK-MB-01"]
    middle = read_season_file(SEASONS / "linkong-2026-middle.toml")
    assert middle.season.stage is Stage.JUNIOR
    schools = {s.code: s for s in middle.schools}
    assert len(schools) == 9
    flower = schools["LK-HH-M1"]  # schools.csv, plan from the workbook's 招生计划 sheet
    assert (flower.township, flower.classes, flower.class_size, flower.reserved) == (
        "420704104",
        7,
        50,
        0,
    )
    assert schools["LK-KG-M1"].public is False  # 民办
    assert len(middle.feeders) == 11 and middle.feeders[0].primary_name == "燕矶镇中心小学"
    assert middle.zones[0].township == "420704101"  # a township's name read as its code
    assert middle.policy_json()["schools"] == list(schools)


def test_english_headers_gb18030_and_a_second_file(middle: Path) -> None:
    folder = middle.parent / "linkong-2026-middle"
    (folder / "more.csv").write_bytes(
        "code,name,stage,public,township,classes,class_size,reserved\n"
        "LK-YJ-M2,燕矶镇第二中学,初中,公办,420704101,2,45,0\n".encode("gb18030")
    )
    text = middle.read_text(encoding="utf-8").replace(
        'schools = "linkong-2026-middle/schools.csv"',
        'schools = ["linkong-2026-middle/schools.csv", "linkong-2026-middle/more.csv"]',
    )
    middle.write_text(text, encoding="utf-8")
    season = read_season_file(middle)
    added = next(s for s in season.schools if s.code == "LK-YJ-M2")
    assert (added.name, added.classes, added.class_size) == ("燕矶镇第二中学", 2, 45)


def test_every_bad_row_is_reported_with_file_row_and_field(middle: Path) -> None:
    folder = middle.parent
    append_lines(
        folder / SCHOOLS_CSV,
        "LK-YJ-M1,燕矶镇中学（重复）,初中,公办,燕矶镇",  # row 11: duplicate code
        "LK-X-M1,某中学,高中,公办,燕矶镇",  # row 12: no such stage
        "LK-Y-M1,某中学,初中,公立,燕矶镇",  # row 13: neither 公办 nor 民办
        "LK-Z-M1,某中学,初中,公办,火星镇",  # row 14: no such township
        "LK-P-01,某小学,小学,公办,燕矶镇",  # row 15: a primary school, fed into below
    )
    append_lines(
        folder / ZONES_CSV,
        "燕矶镇,燕矶村,,LK-NOPE",  # row 10: unknown school
    )
    set_cells(
        folder / LISTS,
        "招生计划",
        {
            **{"C3": "三个", "E4": -1, "A11": "LK-GHOST"},
            **{"A12": "LK-Z-M1", "C12": 2, "D12": 50, "A13": "LK-P-01", "C13": 1, "D13": 45},
        },
    )
    set_cells(
        folder / LISTS,
        "小升初对口",
        {"C3": "LK-P-01", "A13": "LK-YJ-01", "C13": "LK-YJ-M1", "A14": "bad code!"},
    )
    found = issues_of(middle)
    plans, feeders = f"{LISTS}#招生计划", f"{LISTS}#小升初对口"
    assert found == {
        (SCHOOLS_CSV, 11, "code", "duplicate_schools"),
        (SCHOOLS_CSV, 11, "classes", "missing"),  # the plan row went to the first LK-YJ-M1
        (SCHOOLS_CSV, 12, "stage", "enum"),
        (SCHOOLS_CSV, 12, "classes", "missing"),
        (SCHOOLS_CSV, 13, "public", "bool_parsing"),
        (SCHOOLS_CSV, 13, "classes", "missing"),
        (SCHOOLS_CSV, 14, "township", "unknown_township"),
        (ZONES_CSV, 10, "schools", "unknown_school"),
        (plans, 3, "classes", "int_parsing"),
        (plans, 4, "reserved", "greater_than_equal"),
        (plans, 11, "code", "unknown_school"),
        (feeders, 3, "middle", "not_a_middle_school"),
        (feeders, 13, "primary", "duplicate_feeders"),
        (feeders, 14, "primary", "string_pattern_mismatch"),
        (feeders, 14, "middle", "missing"),
    }


def test_file_level_problems(middle: Path) -> None:
    folder = middle.parent
    (folder / ZONES_CSV).write_text("乡镇,划片学校,备注\n燕矶镇,LK-YJ-M1,\n", encoding="utf-8")
    (folder / SCHOOLS_CSV).write_text("学校名称,乡镇\n燕矶镇中学,燕矶镇\n", encoding="utf-8")
    text = middle.read_text(encoding="utf-8").replace('sheet = "小升初对口"', 'sheet = "对口"')
    middle.write_text(
        text.replace("\n[imports]\n", '\n[imports]\nteachers = "t.csv"\n'), encoding="utf-8"
    )
    found = issues_of(middle)
    assert (ZONES_CSV, 1, "备注", "unknown_column") in found
    assert (SCHOOLS_CSV, 1, "code", "missing_column") in found
    assert (f"{LISTS}#对口", None, "", "sheet_not_found") in found
    assert (middle.name, None, "imports.teachers", "extra_forbidden") in found


def test_a_missing_file_and_feeders_in_a_primary_season(tmp_path: Path) -> None:
    text = (SEASONS / "linkong-2026-primary.toml").read_text(encoding="utf-8")
    text = text.replace("[verification]", '[imports]\nzones = "nope.csv"\n\n[verification]')
    text += '\n[[feeders]]\nprimary = "LK-YJ-01"\nmiddle = "LK-YY-01"\n'
    path = tmp_path / "season.toml"
    path.write_text(text, encoding="utf-8")
    found = issues_of(path)
    assert ("nope.csv", None, "", "file_not_found") in found
    (tmp_path / "zones.xlsx").write_text("乡镇,划片学校\n", encoding="utf-8")  # not a workbook
    path.write_text(text.replace("nope.csv", "zones.xlsx"), encoding="utf-8")
    assert ("zones.xlsx", None, "", "unreadable_file") in issues_of(path)
    assert ("season.toml", None, "feeders", "feeders_need_junior_season") in found
    assert ("season.toml", None, "feeders.0.middle", "not_a_middle_school") in found
    assert ("season.toml", None, "feeders.0.primary", "primary_in_season") in found


def test_bad_toml_and_the_error_is_one_typed_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[season\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        read_season_file(path)
    assert isinstance(caught.value, SeasonFileInvalid)
    assert caught.value.code == "invalid_input"
    assert [(i.file, i.code) for i in caught.value.issues] == [("broken.toml", "toml_syntax")]


MINIMAL = """
[season]
code = "2026-middle"
name = "测试"
year = 2026
stage = "junior"
age_cutoff = 2014-08-31
opens_at = 2026-07-01T08:30:00+08:00
closes_at = 2026-07-15T17:30:00+08:00

[[regions]]
code = "420704101"
name = "燕矶镇"
level = "township"

[imports]
schools = "{schools}"
"""

school_rows = st.lists(
    st.tuples(
        st.from_regex(r"[A-Z]{2}-[0-9]{2}", fullmatch=True),
        st.text(st.sampled_from("燕矶镇中学第一二三实验, 、（）"), min_size=1, max_size=12).map(
            str.strip
        ),
        st.booleans(),
        st.integers(0, 20),
        st.integers(1, 60),
        st.integers(0, 30),
    ),
    max_size=8,
    unique_by=lambda row: row[0],
).filter(lambda rows: all(row[1] for row in rows))


@settings(max_examples=25)
@given(school_rows, st.sampled_from(["csv", "xlsx"]))
def test_any_school_list_reads_back_as_written(
    rows: list[tuple[str, str, bool, int, int, int]], kind: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "season.toml"
        path.write_text(MINIMAL.format(schools=f"schools.{kind}"), encoding="utf-8")
        header: list[str | int] = [
            "学校代码",
            "school_name",
            "办学性质",
            "乡镇",
            "班级数",
            "class_size",
            "预留学位",
        ]
        table: list[list[str | int]] = [
            [code, name, "公办" if public else "民办", "燕矶镇", classes, size, reserved]
            for code, name, public, classes, size, reserved in rows
        ]
        if kind == "csv":
            with (Path(folder) / "schools.csv").open("w", encoding="utf-8", newline="") as out:
                csv.writer(out).writerows([header, *table])
        else:
            workbook = Workbook()
            sheet = workbook.active
            assert sheet is not None
            for line in [header, *table]:
                sheet.append(line)
            workbook.save(Path(folder) / "schools.xlsx")
        season = read_season_file(path)
    assert [
        (s.code, s.name, s.public, s.classes, s.class_size, s.reserved) for s in season.schools
    ] == rows
    assert all(s.stage is Stage.JUNIOR and s.township == "420704101" for s in season.schools)
