"""``ruxue placement``: the season's lottery commitment and reveal, runs, comparison,
publication and the per-school lists (派位、公布、录取名单)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services import admission, lottery_draws, placement, publication

placement_app = typer.Typer(help="Admission placement (派位、公布、录取名单).")
T = TypeVar("T")
SYSTEM = Principal.system()
Season = Annotated[str, typer.Option("--season", help="the season's code, e.g. 2026-primary")]


def _with_progress(label: str, work: Callable[[Runtime, Callable[[str], None]], Awaitable[T]]) -> T:
    """Run ``work`` with a spinner whose text the work updates step by step."""
    from ruxue_gateway.cli import _run, console

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def note(step: str) -> None:
            progress.update(task, description=f"{label}：{step}")

        return _run(lambda rt: work(rt, note))


@placement_app.command("commit")
def commit(season: Season, commitment: Annotated[str, typer.Option(help="SHA-256(seed)")]) -> None:
    """Publish the lottery commitment before the draw (the seed stays with the bureau)."""
    from ruxue_gateway.cli import _run, console

    view = _run(lambda rt: lottery_draws.commit_lottery(rt, season, commitment, SYSTEM))
    console.print(f"摇号承诺值已公布 (committed)：{view.commitment}")


@placement_app.command("reveal")
def reveal(season: Season, seed: Annotated[str, typer.Option(help="the seed")]) -> None:
    """Reveal the seed after the draw; refused unless it matches the commitment."""
    from ruxue_gateway.cli import _run, console

    view = _run(lambda rt: lottery_draws.reveal_lottery(rt, season, seed, SYSTEM))
    console.print(f"种子已公布并与承诺值一致 (revealed)：{view.seed}")


@placement_app.command("run")
def run(
    season: Season,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="store nothing")] = False,
    coordination: Annotated[
        bool, typer.Option("--coordination", help="place those in coordination over seats left")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Run the engine over the season: a draft run (published later), or a dry run."""
    from ruxue_gateway.cli import console

    kind = placement.COORDINATION if coordination else placement.MAIN
    view = _with_progress(
        "派位 (placement)",
        lambda rt, note: placement.run_placement(
            rt, season, SYSTEM, dry_run=dry_run, kind=kind, progress=note
        ),
    )
    if as_json:
        typer.echo(json.dumps({"run_id": view.id, **view.summary}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"派位方案 {view.id if view.id is not None else '（试运行 dry run）'}")
    table.add_column("项目 (item)")
    table.add_column("数量 (count)", justify="right")
    for key in ("applicants", "placed", "coordinating"):
        table.add_row(key, str(view.summary[key]))
    by_school = view.summary.get("by_school", {})
    assert isinstance(by_school, dict)
    for school, n in by_school.items():
        table.add_row(f"录取 {school}", str(n))
    console.print(table)


@placement_app.command("compare")
def compare(first: int, second: int) -> None:
    """Who moved where between two runs, and why."""
    from ruxue_gateway.cli import _run, console

    moves = _run(lambda rt: placement.compare_runs(rt, first, second, SYSTEM))
    table = Table(title=f"方案 {first} → {second}：{len(moves)} 人变化")
    for column in ("办件编号", f"方案 {first}", f"方案 {second}", "原因 (why)"):
        table.add_column(column)
    for move in moves:
        table.add_row(move.receipt_no, move.before or "统筹", move.after or "统筹", move.why_after)
    console.print(table)


@placement_app.command("publish")
def publish(run_id: int) -> None:
    """Publish a draft run in one transaction (admissions, coordination, SMS, case records)."""
    from ruxue_gateway.cli import console

    result = _with_progress(
        "公布 (publishing)", lambda rt, _: admission.publish_placement(rt, run_id, SYSTEM)
    )
    console.print(
        f"已公布方案 {result.run_id}：录取 {result.admitted}，统筹 {result.coordinating}，"
        f"跳过 {result.skipped}"
    )


@placement_app.command("lottery-list")
def lottery_list(
    run_id: int, out: Annotated[Path, typer.Option("--out", help="CSV to write")]
) -> None:
    """Write the run's lottery order (checked by ``ruxue lottery verify``)."""
    from ruxue_gateway.cli import _run, console

    text = _run(lambda rt: placement.lottery_list(rt, run_id, SYSTEM))
    out.write_text(text, encoding="utf-8")
    console.print(f"摇号顺序已写入 {out}")


@placement_app.command("list")
def school_list(
    season: Season,
    school: Annotated[str, typer.Option(help="the school's code")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="CSV to write")] = None,
    xlsx_path: Annotated[Path | None, typer.Option("--xlsx", help="XLSX to write")] = None,
) -> None:
    """The school's publication list (masked names, receipt numbers) as CSV and/or XLSX."""
    from ruxue_gateway.cli import _run, console

    rows = _run(lambda rt: publication.publication_list(rt, season, school, SYSTEM))
    if csv_path is not None:
        csv_path.write_text(publication.to_csv(rows), encoding="utf-8")
    if xlsx_path is not None:
        xlsx_path.write_bytes(publication.to_xlsx(rows))
    console.print(f"{school}：{len(rows)} 人")
