"""``ruxue casesync``: the provincial case push's reconciliation report and re-pushes."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from ruxue_core.plugins.contracts import Principal
from ruxue_core.services.casesync import (
    CaseSyncReport,
    Repush,
    case_sync_report,
    repush_case_records,
)

casesync_app = typer.Typer(help="Provincial case push (办件数据回传).")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@casesync_app.command("report")
def report(
    since: Annotated[str | None, typer.Option(help="first day (YYYY-MM-DD), local time")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Per day: records queued, sent, acknowledged, rejected and missing. Exit 1 when any
    record is missing (unacknowledged past its deadline, or lost)."""
    from ruxue_gateway.cli import _run, console

    start = _day(since)
    result: CaseSyncReport = _run(lambda rt: case_sync_report(rt, Principal.system(), since=start))
    if as_json:
        days = [asdict(d) | {"day": d.day.isoformat()} for d in result.days]
        rejections = [
            {"receipt_no": r, "version": v, "reason": why} for r, v, why in result.rejections
        ]
        typer.echo(
            json.dumps(
                {"days": days, "missing": result.missing, "rejections": rejections},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        table = Table(title="办件数据回传对账 (case push reconciliation)")
        for column in (
            "日期 day",
            "待推送 queued",
            "待回执 sent",
            "已回执 acknowledged",
            "被拒收 rejected",
            "缺失 missing",
        ):
            table.add_column(column, justify="right")
        for d in result.days:
            table.add_row(
                d.day.isoformat(),
                *(str(n) for n in (d.queued, d.sent, d.acknowledged, d.rejected, d.missing)),
            )
        console.print(table)
        for receipt_no, version, reason in result.rejections:
            console.print(f"被拒收 (rejected) {receipt_no} v{version}: {reason}")
    if result.missing:
        raise typer.Exit(code=1)


@casesync_app.command("repush")
def repush(
    receipt: Annotated[str | None, typer.Option(help="only this case (办件编号)")] = None,
    since: Annotated[str | None, typer.Option(help="only records from this day on")] = None,
) -> None:
    """Push again what the platform has not acknowledged (rejected records included, after
    their cause was fixed); acknowledged records are never pushed again."""
    from ruxue_gateway.cli import _run, console

    command = Repush(receipt_no=receipt, since=_day(since))
    scheduled = _run(lambda rt: repush_case_records(rt, command, Principal.system()))
    console.print(f"已安排重新推送 {scheduled} 条办件记录 (records scheduled)；由 worker 推送")
