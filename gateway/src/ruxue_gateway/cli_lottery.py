"""``ruxue lottery``: check a published draw against the revealed seed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ruxue_core.placement import lottery

lottery_app = typer.Typer(help="The auditable lottery (摇号).")


@lottery_app.command("verify")
def verify(
    seed: Annotated[str, typer.Option(help="the revealed seed, exactly as published")],
    published: Annotated[Path, typer.Option("--list", help="the published CSV")],
    commit: Annotated[
        str | None, typer.Option(help="the SHA-256 commitment published before the draw")
    ] = None,
) -> None:
    """Recompute a published order (rank,receipt_no,lottery_number) from the seed; exit 1
    naming every problem if it is not exactly what the seed draws."""
    from ruxue_gateway.cli import console

    try:
        text = published.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]无法读取名单 {published}[/red]：{exc}")
        raise typer.Exit(code=2) from None
    result = lottery.verify(seed, text, commit)
    if result.ok:
        console.print(f"摇号结果核验通过 (lottery verified)：{result.entries} 条，顺序与种子一致")
        return
    for problem in result.problems[:50]:
        console.print(f"  {problem}")
    console.print(
        f"[red]摇号结果核验不通过 (lottery NOT verified)[/red]：{len(result.problems)} 处问题"
    )
    raise typer.Exit(code=1)
