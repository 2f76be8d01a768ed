"""Season imports at a city's size: 3,000 schools (CSV), their plans (XLSX) and 20,000 zone
rules (CSV) read, merged and validated by ``read_season_file``, then compared with itself by
the dry-run diff. Prints wall times (run with ``-s``); never a pass/fail threshold."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Final

from openpyxl import Workbook

from ruxue_core.policy import read_season_file
from ruxue_core.season_diff import diff_states, file_state

SCHOOLS: Final = 3_000
ZONES: Final = 20_000
TOWNSHIPS: Final = 30

HEAD = """
[season]
code = "bench-middle"
name = "导入基准"
year = 2026
stage = "junior"
age_cutoff = 2014-08-31
opens_at = 2026-07-01T08:30:00+08:00
closes_at = 2026-07-15T17:30:00+08:00

[imports]
schools = "schools.csv"
plans = "plans.xlsx"
zones = "zones.csv"
"""


def write_season(folder: Path) -> Path:
    regions = "".join(
        f'\n[[regions]]\ncode = "T{t:03d}"\nname = "乡镇{t}"\nlevel = "township"\n'
        for t in range(TOWNSHIPS)
    )
    path = folder / "season.toml"
    path.write_text(HEAD + regions, encoding="utf-8")
    with (folder / "schools.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["学校代码", "学校名称", "办学性质", "乡镇"])
        for s in range(SCHOOLS):
            writer.writerow([f"S{s:05d}", f"第{s}中学", "公办", f"乡镇{s % TOWNSHIPS}"])
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["学校代码", "班级数", "班额", "预留学位"])
    for s in range(SCHOOLS):
        sheet.append([f"S{s:05d}", 4 + s % 8, 50, s % 3])
    workbook.save(folder / "plans.xlsx")
    with (folder / "zones.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["乡镇", "村/社区", "小区", "划片学校"])
        for z in range(ZONES):
            school = z % SCHOOLS
            township = f"T{school % TOWNSHIPS:03d}"
            writer.writerow([township, f"村{z // 7}", f"小区{z}", f"S{school:05d}"])
    return path


def test_import_a_city(tmp_path: Path) -> None:
    path = write_season(tmp_path)
    start = time.perf_counter()
    season = read_season_file(path)
    read = time.perf_counter() - start
    assert len(season.schools) == SCHOOLS and len(season.zones) == ZONES
    state = file_state(season)
    start = time.perf_counter()
    diff = diff_states(season.season.code, state, state)
    compared = time.perf_counter() - start
    assert diff.changes == ()
    print(
        f"\nseason import: {SCHOOLS} schools (CSV) + plans (XLSX) + {ZONES} zones (CSV) "
        f"read and validated in {read:.2f} s; the diff against itself took {compared:.3f} s"
    )
