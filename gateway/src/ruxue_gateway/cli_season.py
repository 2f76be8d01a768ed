"""``ruxue season``: load a season file (and the spreadsheets it imports), or show what
loading it would change; problems and changes are printed as tables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table

from ruxue_core.domain.types import utcnow
from ruxue_core.errors import ConfigurationError
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import read_season_file
from ruxue_core.season_diff import ChangeKind, SeasonDiff
from ruxue_core.season_issues import SeasonFileInvalid
from ruxue_core.services.seasons import load_season
from ruxue_core.settings import Settings

season_app = typer.Typer(help="Enrollment seasons (招生季).")

SECTIONS: Final = {
    "season": "招生季",
    "regions": "区域",
    "schools": "学校",
    "zones": "学区",
    "categories": "入学类别",
    "materials": "材料",
    "feeders": "小升初对口",
    "sms": "短信模板",
    "case": "事项",
    "verification": "核验",
}
#: Values longer than this are cut in the table (the audit entry keeps them whole).
SHOWN: Final = 60


@season_app.command("load")
def season_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    dry_run: Annotated[
        bool, typer.Option(help="only print what would change against the database")
    ] = False,
    open_now: Annotated[
        bool, typer.Option(help="embedded mode only: open registration now, for two weeks")
    ] = False,
) -> None:
    """Load or update a season from its TOML file and the spreadsheets it imports (policy
    as data), printing the changes; with --dry-run, print them and write nothing. Any
    problem in the files is printed with its file, row and field, and nothing is loaded."""
    from ruxue_gateway.cli import _fail, _run, console

    settings = Settings()
    if open_now and not settings.embedded:
        raise _fail(ConfigurationError("--open-now 仅用于嵌入式开发模式"))
    window = (utcnow(), utcnow() + timedelta(days=14)) if open_now else None
    try:
        data = read_season_file(path)
    except SeasonFileInvalid as exc:
        print_issues(console, exc)
        raise typer.Exit(code=2) from None
    result = _run(
        lambda rt: load_season(rt, data, Principal.system(), window=window, dry_run=dry_run)
    )
    print_diff(console, result.diff)
    if dry_run:
        console.print(f"试运行，未写入任何数据 (dry run: nothing written)：{result.code}")
    elif result.applied:
        console.print(f"已加载招生季 {result.code} (season loaded)")
    else:
        console.print(f"招生季 {result.code} 无变化，未写入 (no changes)")


def print_issues(console: Console, error: SeasonFileInvalid) -> None:
    """Every problem of a refused season as one table, then the error's code."""
    table = Table("文件 file", "行 row", "字段 field", "代码 code", "说明 message")
    for issue in error.issues:
        row = "-" if issue.row is None else str(issue.row)
        table.add_row(issue.file, row, issue.field, issue.code, issue.message)
    console.print(table)
    console.print(
        f"[red]错误 ({error.code})[/red]: 招生季配置有 {len(error.issues)} 处问题，未加载任何数据"
    )


def print_diff(console: Console, diff: SeasonDiff) -> None:
    """The changes as one table (or a line saying there are none)."""
    if diff.new:
        console.print(f"新招生季 (new season)：{diff.season}")
    if not diff.changes:
        console.print("与数据库中的招生季相同 (no differences)")
        return
    table = Table(
        "类别 section", "条目 entry", "变化 change", "字段 field", "原值 before", "新值 after"
    )
    for change in diff.changes:
        table.add_row(
            SECTIONS.get(change.section, change.section),
            change.key,
            change.kind.label,
            change.field or "",
            _short(change.before),
            _short(change.after),
        )
    console.print(table)
    counts = "；".join(
        f"{SECTIONS.get(section, section)} "
        + "、".join(f"{ChangeKind(kind).label} {n}" for kind, n in sorted(kinds.items()))
        for section, kinds in diff.counts().items()
    )
    console.print(f"共 {len(diff.changes)} 处变化 (changes)：{counts}")


def _short(value: str | None) -> str:
    if value is None:
        return ""
    return value if len(value) <= SHOWN else value[: SHOWN - 1] + "…"
