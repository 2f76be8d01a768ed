"""Problems in a season's files, every one with its file, row and field: the one typed error
(:class:`SeasonFileInvalid`) that season loading raises, and the Chinese wording of pydantic's
validation errors (their English ``type`` stays the stable code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic_core import ErrorDetails

from ruxue_core.errors import InvalidInput

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SeasonIssue:
    """One problem: the file (as the season TOML names it), the spreadsheet row (``None``
    for a TOML entry or a whole file), the field, a stable English code, a Chinese message."""

    file: str
    row: int | None
    field: str
    code: str
    message: str


class SeasonFileInvalid(InvalidInput):
    """A season's files have problems; ``issues`` lists every one (nothing is loaded)."""

    default_message = "招生季配置有误"

    def __init__(self, issues: Sequence[SeasonIssue]) -> None:
        self.issues = tuple(sorted(issues, key=lambda i: (i.file, i.row or 0)))
        first = self.issues[0] if self.issues else None
        where = f"：{first.file} {_where(first)}：{first.message}" if first else ""
        more = f"（共 {len(self.issues)} 处）" if len(self.issues) > 1 else ""
        super().__init__(
            f"{self.default_message}{where}{more}", field=first.field if first else None
        )


def _where(issue: SeasonIssue) -> str:
    row = f"第 {issue.row} 行 " if issue.row is not None else ""
    return f"{row}{issue.field}".strip()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry of the merged season came from: a file, and its row when a sheet."""

    file: str
    row: int | None = None


@dataclass(slots=True)
class Provenance:
    """The origin of each list entry (``("schools", 3)``) of the merged season data, and of
    single fields a second file set (a plan row's ``classes``). Unlisted: the TOML itself."""

    toml: str
    entries: dict[tuple[str, int], Origin] = field(default_factory=dict)
    fields: dict[tuple[str, int, str], Origin] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[Origin, str]:
        """The origin of ``loc`` and the field to name there (the path within a sheet row,
        the whole dotted path within the TOML)."""
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            section, index = loc[0], loc[1]
            rest = ".".join(str(p) for p in loc[2:])
            override = self.fields.get((section, index, str(loc[2]))) if len(loc) > 2 else None
            origin = override or self.entries.get((section, index))
            if origin is not None:
                return origin, rest or section
        return Origin(self.toml), ".".join(str(p) for p in loc) or "(file)"


#: pydantic's error types in Chinese; ``{name}`` takes the error's context.
MESSAGES: Final[Mapping[str, str]] = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的配置项",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "greater_than": "应大于 {gt}",
    "less_than": "应小于 {lt}",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文本",
    "string_too_short": "不能为空",
    "string_too_long": "过长（最多 {max_length} 个字符）",
    "too_short": "至少需要 {min_length} 项",
    "bool_parsing": "应为 是/否（true/false）",
    "bool_type": "应为 是/否（true/false）",
    "enum": "取值应为 {expected} 之一",
    "literal_error": "取值应为 {expected} 之一",
    "date_parsing": "应为日期，如 2026-08-31",
    "date_from_datetime_parsing": "应为日期，如 2026-08-31",
    "date_type": "应为日期，如 2026-08-31",
    "datetime_parsing": "应为带时区的时间，如 2026-07-01T08:30:00+08:00",
    "datetime_from_date_parsing": "应为带时区的时间，如 2026-07-01T08:30:00+08:00",
    "datetime_type": "应为带时区的时间，如 2026-07-01T08:30:00+08:00",
    "list_type": "应为列表",
    "dict_type": "应为表（TOML table）",
    "model_type": "应为表（TOML table）",
    "model_attributes_type": "应为表（TOML table）",
}


class ReferenceProblems(ValueError):
    """Raised by a model validator with every cross-reference problem it found; pydantic
    keeps the exception in the error's context, so each problem keeps its own place."""

    def __init__(self, problems: Sequence[tuple[Loc, str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {m}" for loc, _, m in problems))


def issues_of(errors: Iterable[ErrorDetails], provenance: Provenance) -> list[SeasonIssue]:
    """Every pydantic error as a located issue, the reference problems one by one."""
    issues: list[SeasonIssue] = []
    for error in errors:
        ctx: dict[str, Any] = dict(error.get("ctx") or {})
        cause = ctx.get("error")
        if isinstance(cause, ReferenceProblems):
            for loc, code, message in cause.problems:
                issues.append(_issue(provenance, (*error["loc"], *loc), code, message))
            continue
        kind = error["type"]
        if kind == "value_error":
            message = f"配置不正确：{cause}"
        else:
            message = MESSAGES.get(kind, "取值不正确").format_map(_Context(ctx))
        issues.append(_issue(provenance, tuple(error["loc"]), kind, message))
    return issues


def _issue(provenance: Provenance, loc: Loc, code: str, message: str) -> SeasonIssue:
    origin, where = provenance.locate(loc)
    return SeasonIssue(origin.file, origin.row, where, code, message)


class _Context(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""
