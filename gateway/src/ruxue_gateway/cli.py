"""The ``ruxue`` command: serve, worker, demo, migrate, season load, token, audit verify."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ruxue_core.domain.enums import Role
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import ConfigurationError, RuxueError
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.migrate import upgrade
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import read_season_file
from ruxue_core.runtime import Runtime
from ruxue_core.services.operations import verify_audit
from ruxue_core.services.seasons import load_season
from ruxue_core.settings import Mode, Settings

app = typer.Typer(help="Ruxue (入学): district school enrollment as one public service.")
season_app = typer.Typer(help="Enrollment seasons (招生季).")
audit_app = typer.Typer(help="The tamper-evident audit log.")
app.add_typer(season_app, name="season")
app.add_typer(audit_app, name="audit")
console = Console()


def _fail(exc: RuxueError) -> typer.Exit:
    console.print(f"[red]错误 ({exc.code})[/red]: {exc.message}")
    return typer.Exit(code=2)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the latest revision."""
    settings = Settings()
    upgrade(settings.resolved_database_url)
    console.print("数据库已迁移到最新版本 (migrated to head)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
) -> None:
    """Serve the GraphQL gateway. Embedded mode also runs a worker in-process and mounts the
    sandbox department service, so the whole path works on one machine with no set-up."""
    import uvicorn

    from ruxue_gateway.embedded import serve_app

    uvicorn.run(serve_app(Settings(), host, port), host=host, port=port, log_level="info")


@app.command()
def worker() -> None:
    """Run an outbox worker until SIGINT/SIGTERM. Run as many as you like, anywhere."""

    async def run() -> None:
        runtime = Runtime.create(Settings())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await Worker(runtime, HANDLERS).run(stop)
        finally:
            await runtime.close()

    asyncio.run(run())


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="the principal's role")],
    subject: Annotated[str, typer.Option(help="principal id")] = "",
    name: Annotated[str, typer.Option(help="display name")] = "",
    region: Annotated[str | None, typer.Option(help="township code (counter staff)")] = None,
    school: Annotated[str | None, typer.Option(help="school code (school reviewers)")] = None,
) -> None:
    """Print a development bearer token (embedded mode only)."""
    principal = Principal(subject or f"dev-{role.value}", role, name, region, school)
    typer.echo(issue_dev_token(Settings(), principal))


@season_app.command("load")
def season_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    open_now: Annotated[
        bool, typer.Option(help="embedded mode only: open registration now, for two weeks")
    ] = False,
) -> None:
    """Load or update a season from its TOML file (policy as data)."""
    settings = Settings()
    if open_now and settings.mode is not Mode.EMBEDDED:
        raise _fail(ConfigurationError("--open-now 仅用于嵌入式开发模式"))
    window = (utcnow(), utcnow() + timedelta(days=14)) if open_now else None

    async def run() -> str:
        runtime = Runtime.create(settings)
        try:
            async with runtime.unit_of_work() as uow:
                season = await load_season(
                    uow, read_season_file(path), Principal.system(), window=window
                )
            return season.code
        finally:
            await runtime.close()

    try:
        code = asyncio.run(run())
    except RuxueError as exc:
        raise _fail(exc) from None
    console.print(f"已加载招生季 {code} (season loaded)")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 if any row was altered, added or removed."""

    async def run() -> tuple[int, int | None, str | None]:
        runtime = Runtime.create(Settings())
        try:
            async with runtime.unit_of_work(read_only=True) as uow:
                report = await verify_audit(uow, Principal.system())
            return report.rows, report.broken_at, report.problem
        finally:
            await runtime.close()

    rows, broken_at, problem = asyncio.run(run())
    if broken_at is None:
        console.print(f"审计链完整 (audit chain intact): {rows} 条记录")
        return
    console.print(f"[red]审计链被破坏 (audit chain broken)[/red] 于记录 {broken_at}: {problem}")
    raise typer.Exit(code=1)


@app.command()
def demo(
    families: Annotated[int, typer.Option(help="synthetic families to run")] = 300,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the summary here")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="keep the run here (default: temp)")] = None,
    seed: Annotated[int, typer.Option(help="random seed for the synthetic families")] = 2026,
    season: Annotated[Path | None, typer.Option(help="season TOML (default: the sample)")] = None,
) -> None:
    """Run a season end to end on a fresh SQLite file with sandbox services and print a summary."""
    from ruxue_gateway.demo import SEASON_FILE, run_demo

    summary = run_demo(
        families=families,
        data_dir=data_dir,
        seed=seed,
        console=console,
        season_file=season or SEASON_FILE,
    )
    if json_path is not None:
        json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"摘要已写入 {json_path}")


def main() -> None:
    """Entry point of the ``ruxue`` script."""
    app()
