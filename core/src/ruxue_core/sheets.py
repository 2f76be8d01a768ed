"""Spreadsheets as districts keep them: a CSV or XLSX table read into text rows keyed by
canonical column names, whatever language its headers are in.

Nothing here knows what a school or a zone is (that is :mod:`ruxue_core.season_imports`);
this module only turns a file into rows, and every problem into a :class:`SheetProblem`
naming the row and column, so that one pass reports them all.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final

#: Header spellings are compared after removing blanks, required-markers and brackets.
_NOISE: Final = re.compile(r"[\s*＊()（）\[\]【】:：]")

#: Encodings tried for a CSV file, in order: Excel writes UTF-8 with a BOM or, in Chinese
#: locales, GB18030 (a superset of GBK).
ENCODINGS: Final = ("utf-8-sig", "gb18030")


@dataclass(frozen=True, slots=True)
class SheetProblem:
    """One problem in a sheet: the 1-based row as the spreadsheet numbers it (the header is
    row 1; ``None`` for the whole file), the column, a stable code and a Chinese message."""

    row: int | None
    column: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its spreadsheet row number and its non-empty cells by canonical column."""

    number: int
    cells: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Sheet:
    """What a file held: its rows, and every problem met reading it."""

    rows: list[Row] = field(default_factory=list)
    problems: list[SheetProblem] = field(default_factory=list)


def normalise_header(text: str) -> str:
    """A header as compared with the known spellings: case-folded, blanks and marks removed."""
    return _NOISE.sub("", text).casefold()


def read_sheet(
    path: Path,
    columns: Mapping[str, Sequence[str]],
    *,
    required: Sequence[str] = (),
    sheet: str | None = None,
) -> Sheet:
    """Read a CSV (UTF-8, with or without BOM, or GB18030 as Chinese Excel saves it) or an
    XLSX file (the named worksheet, else the first) into rows.

    :param columns: canonical column name → accepted header spellings (Chinese, English).
    :param required: columns the header must have.
    :param sheet: the worksheet of an XLSX workbook.
    :return: the rows (blank ones skipped) and every problem: unreadable file, unknown,
        duplicate or missing columns.
    """
    try:
        if path.suffix.lower() == ".xlsx":
            table = _xlsx_table(path, sheet)
        elif path.suffix.lower() == ".csv":
            table = _csv_table(path)
        else:
            return Sheet(problems=[_whole("unsupported_format", "仅支持 CSV 或 XLSX 文件")])
    except FileNotFoundError:
        return Sheet(problems=[_whole("file_not_found", "文件不存在")])
    except KeyError:
        return Sheet(problems=[_whole("sheet_not_found", f"工作簿中没有名为「{sheet}」的工作表")])
    except (OSError, ValueError, csv.Error, zipfile.BadZipFile) as exc:
        return Sheet(problems=[_whole("unreadable_file", f"无法读取文件：{type(exc).__name__}")])
    return _rows(table, columns, required)


def _whole(code: str, message: str) -> SheetProblem:
    return SheetProblem(None, "", code, message)


def _csv_table(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    raise ValueError("encoding")


def _xlsx_table(path: Path, sheet: str | None) -> list[list[str]]:
    from openpyxl import load_workbook  # imported when a workbook is read: it is not small

    if not path.exists():
        raise FileNotFoundError(path)
    with warnings.catch_warnings():  # styles and extensions it skips do not matter here
        warnings.simplefilter("ignore", UserWarning)
        workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        return [[_cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """A cell as text: whole numbers without ``.0``, dates in ISO form, empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _rows(
    table: list[list[str]], columns: Mapping[str, Sequence[str]], required: Sequence[str]
) -> Sheet:
    spelling = {normalise_header(s): name for name, spells in columns.items() for s in spells}
    spelling.update({normalise_header(name): name for name in columns})
    header_at = next((i for i, row in enumerate(table) if any(c.strip() for c in row)), None)
    if header_at is None:
        return Sheet(problems=[_whole("empty_file", "文件没有表头")])
    problems: list[SheetProblem] = []
    position: dict[int, str] = {}
    for index, text in enumerate(table[header_at]):
        if not text.strip():
            continue
        name = spelling.get(normalise_header(text))
        if name is None:
            known = "、".join(columns[c][0] if columns[c] else c for c in columns)
            problems.append(
                SheetProblem(
                    header_at + 1,
                    text.strip(),
                    "unknown_column",
                    f"无法识别的列名（可用：{known}）",
                )
            )
        elif name in position.values():
            problems.append(SheetProblem(header_at + 1, name, "duplicate_column", "列名重复"))
        else:
            position[index] = name
    for name in required:
        if name not in position.values():
            label = columns[name][0] if columns[name] else name
            problems.append(
                SheetProblem(header_at + 1, name, "missing_column", f"缺少「{label}」列")
            )
    rows: list[Row] = []
    for number, row in enumerate(table[header_at + 1 :], start=header_at + 2):
        cells = {
            position[i]: text.strip()
            for i, text in enumerate(row)
            if i in position and text.strip()
        }
        if cells:
            rows.append(Row(number, cells))
    return Sheet(rows, problems)
