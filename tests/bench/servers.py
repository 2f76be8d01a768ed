"""The ladder's processes: servers on loopback, ``ruxue`` commands, and a throwaway PostgreSQL
database. Every process started here is stopped when its :class:`Processes` block ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

import psycopg
from psycopg import sql
from server_start import free_port, wait_until_up
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from ruxue_core import jobs
from ruxue_core.db import Database
from ruxue_core.domain import Application
from ruxue_core.domain.enums import JobStatus, Status
from ruxue_core.settings import to_sync_url

ROOT: Final = Path(__file__).resolve().parents[2]
SEASON_FILE: Final = ROOT / "contrib" / "seasons" / "linkong-2026-primary.toml"
FLOOR: Final = Path(__file__).with_name("floor.py")
RUXUE: Final = (sys.executable, "-m", "ruxue_gateway")
STOP_SECONDS: Final = 15.0
SETTLE_SECONDS: Final = 300.0


def environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any ``RUXUE_*`` variable, plus ``settings``."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("RUXUE_")}
    return kept | dict(settings)


class Processes(contextlib.AbstractContextManager["Processes"]):
    """The processes one part of the ladder starts; all stopped on leaving (also on failure).
    Each one's output goes to ``<logs>/<name>.log``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the background, its output to its log file."""
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                argv, env=dict(env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        self.started.append((name, process))
        return process

    def serve(self, name: str, argv: list[str], env: Mapping[str, str], port: int) -> str:
        """Start a server listening on ``port``; return its URL once ``/healthz`` answers."""
        process = self.start(name, argv, env)
        return wait_until_up(f"http://127.0.0.1:{port}", process, name, lambda: self.tail(name))

    def check_running(self) -> None:
        """Raise if a started process has exited on its own."""
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        """The end of one process's log."""
        text = (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop every started process: SIGTERM (servers and workers shut down cleanly), then
        SIGKILL if one takes too long."""
        for _, process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.started:
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True, slots=True)
class Deployment:
    """One Ruxue database with its data directory (keys, SMS log; the SQLite file unless a
    PostgreSQL URL is given), and the ``ruxue`` command run against it in embedded mode."""

    name: str
    data_dir: Path
    database_url: str | None = None
    lookups_per_minute: int = 1_000_000_000

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "postgresql" if self.database_url else "sqlite"

    def env(self) -> dict[str, str]:
        """The environment of every ``ruxue`` process on this database: no verifier (so
        verification refers each application to manual review), the default notifier, and
        the per-client lookup limit out of the way."""
        settings = {
            "RUXUE_DATA_DIR": str(self.data_dir),
            "RUXUE_VERIFIERS": "[]",
            "RUXUE_LIMITS__LOOKUPS_PER_MINUTE_PER_CLIENT": str(self.lookups_per_minute),
        }
        if self.database_url:
            settings["RUXUE_DATABASE_URL"] = self.database_url
        return environment(settings)

    def ruxue(self, *args: str) -> str:
        """Run one ``ruxue`` command to completion; return what it printed."""
        completed = subprocess.run(
            [*RUXUE, *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"ruxue {' '.join(args)}: {completed.stderr or completed.stdout}")
        return completed.stdout

    def prepare(self) -> None:
        """Migrate, then load the sample season with registration open now."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ruxue("migrate")
        self.ruxue("season", "load", str(SEASON_FILE), "--open-now")

    def token(self, *options: str) -> str:
        """A development bearer token (``ruxue token`` with these options)."""
        return self.ruxue("token", *options).strip()

    def serve(self, processes: Processes, name: str, *, worker: bool = True) -> str:
        """``ruxue serve`` (with or without its in-process worker); returns its URL."""
        port = free_port()
        argv = [*RUXUE, "serve", "--port", str(port), "--worker" if worker else "--no-worker"]
        return processes.serve(name, argv, self.env(), port)

    def worker(self, processes: Processes, name: str) -> None:
        """``ruxue worker`` in the background."""
        processes.start(name, [*RUXUE, "worker"], self.env())

    @contextlib.contextmanager
    def database(self) -> Iterator[Database]:
        """A connection pool on this deployment's database, for the ladder's own reads."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'ruxue.db'}"
        database = Database(to_sync_url(url))
        try:
            yield database
        finally:
            database.dispose_here()

    def settle(self, processes: Processes) -> float:
        """Wait until the workers have done every job (periodic ones aside); return how long
        that took. Raises if a job is dead, a process died, or it takes too long."""
        started = time.monotonic()
        with self.database() as database:
            while database.run_here(jobs.outstanding, read_only=True) > 0:
                processes.check_running()
                if time.monotonic() - started > SETTLE_SECONDS:
                    counts = database.run_here(jobs.counts, read_only=True)
                    raise RuntimeError(f"jobs still outstanding after {SETTLE_SECONDS}s: {counts}")
                time.sleep(0.2)
            counts = database.run_here(jobs.counts, read_only=True)
        if counts.get(JobStatus.DEAD):
            raise RuntimeError(f"dead jobs on {self.name}: {counts}")
        return time.monotonic() - started

    def in_manual_review(self) -> list[int]:
        """Ids of the applications waiting for manual review, oldest first."""
        with self.database() as database:
            ids = database.run_here(
                lambda session: session.exec(
                    select(Application.id)
                    .where(col(Application.status) == Status.MANUAL_REVIEW)
                    .order_by(col(Application.id))
                ).all(),
                read_only=True,
            )
        return [i for i in ids if i is not None]


def postgres_unavailable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used at ``admin_url`` (``None`` when it can)."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__


@contextlib.contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty database ``ruxue_bench_<time>`` beside ``admin_url``'s; dropped after."""
    name = f"ruxue_bench_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
    identifier = sql.Identifier(name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
