"""The ``ruxue`` command: serve, worker, demo, migrate, season, staff, token, audit, casesync,
lottery, placement, queries."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import typer
from rich.console import Console

from ruxue_core import heap
from ruxue_core.domain.enums import Role
from ruxue_core.errors import ConfigurationError, RuxueError
from ruxue_core.handlers import HANDLERS, PERIODIC
from ruxue_core.jobs import Worker
from ruxue_core.logs import configure_logging
from ruxue_core.migrate import upgrade
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.national_id import parse_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.services import operations, staff
from ruxue_core.settings import Settings

app = typer.Typer(help="Ruxue (入学): district school enrollment as one public service.")
audit_app = typer.Typer(help="The tamper-evident audit log (审计日志).")
staff_app = typer.Typer(help="Staff accounts (工作人员账号).")
app.add_typer(audit_app, name="audit")
app.add_typer(staff_app, name="staff")
console = Console()
T = TypeVar("T")


def _fail(exc: RuxueError) -> typer.Exit:
    console.print(f"[red]错误 ({exc.code})[/red]: {exc.message}")
    return typer.Exit(code=2)


def _runtime() -> Runtime:
    """The runtime for the current settings, or exit 2 naming what is misconfigured."""
    try:
        return Runtime.create(Settings())
    except RuxueError as exc:
        raise _fail(exc) from None


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``work`` against a fresh runtime; refusals exit 2 with their message."""
    runtime = _runtime()

    async def main() -> T:
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except RuxueError as exc:
        raise _fail(exc) from None


class LogFormat(StrEnum):
    """How log lines are written to stderr."""

    JSON = "json"
    TEXT = "text"


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            envvar="RUXUE_LOG_FORMAT",
            help="json (one object per line, with request ids; the default in production) "
            "or text (the default in embedded mode)",
        ),
    ] = None,
) -> None:
    production = os.environ.get("RUXUE_MODE", "").lower() == "production"
    chosen = log_format or (LogFormat.JSON if production else LogFormat.TEXT)
    configure_logging(logging.INFO if verbose else logging.WARNING, log_format=chosen.value)


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the latest revision."""
    settings = Settings()
    upgrade(settings.resolved_database_url, settings=settings)
    console.print("数据库已迁移到最新版本 (migrated to head)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind (loopback unless told)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    worker: Annotated[
        bool | None,
        typer.Option("--worker/--no-worker", help="run an outbox worker in this process"),
    ] = None,
    proxy_headers: Annotated[
        bool, typer.Option(help="trust X-Forwarded-For from --forwarded-allow-ips")
    ] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(help="proxies to trust")] = "127.0.0.1",
) -> None:
    """Serve the GraphQL gateway. Embedded mode also mounts the sandbox department service
    and (unless --no-worker) runs a worker in-process, so the whole path works on one
    machine. Production refuses to start on a wrong configuration, naming the setting."""
    import uvicorn

    from ruxue_gateway.embedded import serve_app

    settings = Settings()
    if worker is not None:
        settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"in_process": worker})}
        )
    try:
        application = serve_app(settings, host, port)
    except RuxueError as exc:
        raise _fail(exc) from None
    heap.settle()  # start-up is done: its objects are permanent
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@app.command("worker")
def run_worker() -> None:
    """Run an outbox worker until SIGINT/SIGTERM. Run as many as you like, anywhere."""

    async def work(runtime: Runtime) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        heap.settle()  # the runtime and its plugins are loaded: their objects are permanent
        await Worker(runtime, HANDLERS, periodic=PERIODIC).run(stop)

    _run(work)


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="the principal's role")],
    subject: Annotated[str, typer.Option(help="principal id")] = "",
    name: Annotated[str, typer.Option(help="display name (a guardian's real name)")] = "",
    region: Annotated[str | None, typer.Option(help="township code (counter staff)")] = None,
    school: Annotated[str | None, typer.Option(help="school code (school reviewers)")] = None,
    id_number: Annotated[
        str | None, typer.Option(help="guardians: the verified real-name ID number")
    ] = None,
    hours: Annotated[float, typer.Option(help="how long the token is valid")] = 12.0,
) -> None:
    """Print a development bearer token (embedded mode only)."""
    settings = Settings()
    try:
        verified = parse_national_id(id_number, field="id-number").value if id_number else None
    except RuxueError as exc:
        raise _fail(exc) from None
    principal = Principal(
        subject or f"dev-{role.value}",
        role,
        name,
        region,
        school,
        verified_id_number=verified,
    )
    try:
        typer.echo(issue_dev_token(settings, principal, ttl=timedelta(hours=hours)))
    except ConfigurationError as exc:
        raise _fail(exc) from None


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Argument(help="login name (lowercase)")],
    role: Annotated[Role, typer.Option(help="the account's role")],
    name: Annotated[str, typer.Option(help="the person's name")],
    region: Annotated[str | None, typer.Option(help="counter staff: township code")] = None,
    school: Annotated[str | None, typer.Option(help="school reviewers: school code")] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from standard input")
    ] = False,
) -> None:
    """Create a staff account; the password is asked for (or read from stdin)."""
    password = _read_password(password_stdin)
    command = staff.AddStaff(username, name, role, password, region, school)
    _run(lambda rt: staff.add_staff(rt, command, Principal.system()))
    console.print(f"已创建工作人员账号 {username} (staff account added)")


@staff_app.command("disable")
def staff_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account and end its sessions."""
    _run(lambda rt: staff.disable_staff(rt, username, Principal.system()))
    console.print(f"已停用 {username} (disabled)")


@staff_app.command("reset")
def staff_reset(username: Annotated[str, typer.Argument()]) -> None:
    """Give an account a new random password (printed once), unlock and re-enable it."""
    password = _run(lambda rt: staff.reset_password(rt, username, Principal.system()))
    console.print(f"{username} 的新密码 (new password): {password}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码 (password): ")
    if getpass.getpass("再次输入 (again): ") != first:
        raise _fail(ConfigurationError("两次输入的密码不一致"))
    return first


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        list[Path] | None,
        typer.Option(help="a head exported earlier by `ruxue audit head` (repeatable)"),
    ] = None,
) -> None:
    """Recompute every entry and signed tree head; exit 1 if anything was altered or removed."""
    published = [_read_head(p) for p in head or []]
    runtime = _runtime()
    try:
        report = operations.verify_audit(runtime, Principal.system(), published=published)
    finally:
        runtime.db.dispose_here()
    summary = f"{report.entries} 条记录, {report.heads} 个签名树头, {report.unsequenced} 条待排序"
    if report.ok:
        console.print(f"审计日志完整 (audit log intact): {summary}")
        return
    console.print(f"[red]审计日志被破坏 (audit log broken)[/red]: {report.problem}；{summary}")
    raise typer.Exit(code=1)


@audit_app.command("prove")
def audit_prove(
    receipt_no: Annotated[str, typer.Argument(help="办件编号")],
    output: Annotated[Path | None, typer.Option(help="write the JSON here")] = None,
) -> None:
    """Print inclusion proofs of one case's audit entries against the latest signed head;
    check them with contrib/audit/verify_proof.py."""
    runtime = _runtime()
    try:
        proof = operations.prove_audit(runtime, receipt_no, Principal.system())
    finally:
        runtime.db.dispose_here()
    if proof is not None and not proof["entries"]:
        console.print(f"没有该办件已签入树头的审计记录 (no sequenced entries for {receipt_no})")
        raise typer.Exit(code=1)
    _emit(proof, output, "尚无签名树头 (no signed head yet)")


@audit_app.command("head")
def audit_head(
    output: Annotated[Path | None, typer.Option(help="write the JSON here")] = None,
) -> None:
    """Export the latest signed tree head, for the district to publish."""
    runtime = _runtime()
    try:
        exported = operations.audit_head(runtime, Principal.system())
    finally:
        runtime.db.dispose_here()
    _emit(exported, output, "尚无签名树头 (no signed head yet)")


HEAD_KEYS: Final = ("tree_size", "root_hash", "signed_at", "key_id", "signature")


def _read_head(path: Path) -> dict[str, Any]:
    """A head exported by ``ruxue audit head``, or exit 2 saying what is wrong with the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(ConfigurationError(f"无法读取树头文件 {path}：{exc}")) from None
    if not isinstance(data, dict) or any(key not in data for key in HEAD_KEYS):
        raise _fail(ConfigurationError(f"树头文件 {path} 缺少字段（需要 {', '.join(HEAD_KEYS)}）"))
    try:
        int(data["tree_size"])
        datetime.fromisoformat(str(data["signed_at"]).replace("Z", "+00:00"))
    except ValueError:
        raise _fail(ConfigurationError(f"树头文件 {path} 的字段格式不正确")) from None
    return data


def _emit(data: dict[str, Any] | None, output: Path | None, empty: str) -> None:
    if data is None:
        console.print(empty)
        raise typer.Exit(code=1)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


@app.command()
def demo(
    families: Annotated[int, typer.Option(help="synthetic families to run")] = 300,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the summary here")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="keep the run here (default: temp)")] = None,
    seed: Annotated[int, typer.Option(help="random seed for the synthetic families")] = 2026,
    season: Annotated[Path | None, typer.Option(help="season TOML (default: the sample)")] = None,
    platform_fail_rate: Annotated[
        float, typer.Option(help="share of pushes the fake provincial platform fails")
    ] = 0.2,
    platform_ack_delay: Annotated[
        float, typer.Option(help="seconds before the fake platform acknowledges a record")
    ] = 0.3,
) -> None:
    """Run a season end to end on a fresh SQLite file with sandbox services and print a summary."""
    from ruxue_gateway.demo import SEASON_FILE, PlatformFaults, run_demo

    summary = run_demo(
        families=families,
        data_dir=data_dir,
        seed=seed,
        console=console,
        season_file=season or SEASON_FILE,
        faults=PlatformFaults(fail_rate=platform_fail_rate, ack_delay=platform_ack_delay),
    )
    if json_path is not None:
        json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"摘要已写入 {json_path}")


def _add_subcommands() -> None:
    from ruxue_gateway.cli_casesync import casesync_app
    from ruxue_gateway.cli_lottery import lottery_app
    from ruxue_gateway.cli_placement import placement_app
    from ruxue_gateway.cli_queries import queries_app
    from ruxue_gateway.cli_season import season_app

    app.add_typer(season_app, name="season")
    app.add_typer(casesync_app, name="casesync")
    app.add_typer(lottery_app, name="lottery")
    app.add_typer(placement_app, name="placement")
    app.add_typer(queries_app, name="queries")


_add_subcommands()


def main() -> None:
    """Entry point of the ``ruxue`` script."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
