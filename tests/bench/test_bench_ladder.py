"""The HTTP ladder: what each layer costs, measured side by side in one run with wrk.

Every server is its own process on loopback, served the same way (one uvicorn process, as
``ruxue serve`` runs it); every rung is one thread of wrk with 32 connections for
``RUXUE_BENCH_SECONDS`` (5) after a ``RUXUE_BENCH_WARMUP`` (2) second warm-up run:

1. a raw Starlette JSON POST endpoint (``floor.py``);
2. a one-field Strawberry schema (``{ hello }``) with parser and validation caches;
3. ``applicationStatus`` against ``ruxue serve`` (embedded mode, SQLite, in-process worker);
4. ``submitApplication`` by one verified guardian, a new child each request;
5. ``reviewApplication``: once the worker has referred them all to manual review, counter
   staff approve each of them (on to school review);
6. rungs 3-5 on a fresh PostgreSQL database (``RUXUE_BENCH_POSTGRES_URL`` names the server's
   admin database; ``off`` skips the PostgreSQL rungs);
7. on PostgreSQL, ``submitApplication`` through one gateway (``ruxue serve --no-worker``) with
   one ``ruxue worker``, then through two gateways with two workers (one wrk per gateway);
8. ``submitApplication`` at 200 connections (p99 under load), on SQLite and PostgreSQL;
9. ``ruxue demo``'s phase timings at ``RUXUE_BENCH_FAMILIES`` (``300,3000``) families.

Prints one table (run with ``-s``), also written as JSON to ``$RUXUE_BENCH_JSON`` if set.
Machines are noisy and shared: compare within one run, and never turn a figure into a
pass/fail threshold. Asserts only that the rungs ran and that every answer was the expected
success (no GraphQL error type, no HTTP error, no timeout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from server_start import free_port

from ruxue_core.rules.national_id import make_national_id

from .servers import (
    FLOOR,
    RUXUE,
    Deployment,
    Processes,
    environment,
    fresh_postgres,
    postgres_unavailable,
)
from .wrk import PLACEHOLDER, Children, Feed, Listed, Load, Measured, Static, run_fed, wrk_path

SECONDS: Final = float(os.environ.get("RUXUE_BENCH_SECONDS", "5"))
WARMUP: Final = float(os.environ.get("RUXUE_BENCH_WARMUP", "2"))
FAMILIES: Final = tuple(
    int(n) for n in os.environ.get("RUXUE_BENCH_FAMILIES", "300,3000").split(",") if n.strip()
)
POSTGRES: Final = os.environ.get(
    "RUXUE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CONNECTIONS: Final = 32
MANY: Final = 200
ROUNDS: Final = 3
"""A rung at many connections measures at least this many rounds of them."""
MAX_PAUSE: Final = 30.0
HEADROOM: Final = 1.3
"""The review rung runs only as long as its applications last at 1/HEADROOM of the warm-up
rate (each application is approved once)."""

SEASON: Final = "2026-primary"
GUARDIAN_NAME: Final = "张三"
GUARDIAN_ID: Final = "420704198501011233"
TOWNSHIP: Final = "420704101"

HELLO: Final = "{ hello }"
HELLO_OK: Final = '"hello":"world"'
STATUS: Final = """
query Status($receiptNo: String!, $queryCode: String!) {
  applicationStatus(receiptNo: $receiptNo, queryCode: $queryCode) {
    __typename
    ... on StatusLookup { receiptNo status statusLabel childName schoolName updatedAt }
    ... on Error { code message field }
  }
}"""
STATUS_OK: Final = '"__typename":"StatusLookup"'
SUBMIT: Final = """
mutation Submit($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    __typename
    ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
    ... on Error { code message field }
  }
}"""
SUBMIT_OK: Final = '"__typename":"SubmitApplicationSuccess"'
REVIEW: Final = """
mutation Review($input: ReviewApplicationInput!) {
  reviewApplication(input: $input) {
    __typename
    ... on ApplicationChanged { status version }
    ... on Error { code message field }
  }
}"""
REVIEW_OK: Final = '"__typename":"ApplicationChanged"'


@dataclass(frozen=True, slots=True)
class Row:
    """One rung's figures: its measured run (one wrk per target, summed) and its warm-up."""

    number: int
    name: str
    backend: str
    connections: int
    runs: tuple[Measured, ...]
    warmup: tuple[Measured, ...]
    note: str = ""

    @property
    def rate(self) -> float:
        """Requests per second, all targets together."""
        return sum(run.rate for run in self.runs)

    @property
    def p50_ms(self) -> float:
        """Median latency (the slowest target's)."""
        return max(run.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        """99th percentile latency (the slowest target's)."""
        return max(run.p99_ms for run in self.runs)

    @property
    def seconds(self) -> float:
        """How long the measured run lasted."""
        return max(run.seconds for run in self.runs)

    @property
    def bad(self) -> int:
        """Answers other than the expected success, warm-up included."""
        return sum(run.bad for run in (*self.runs, *self.warmup))

    @property
    def sample(self) -> str:
        """The first bad answer, if any."""
        return next((run.sample for run in (*self.runs, *self.warmup) if run.sample), "")

    def figures(self, floor: float | None) -> dict[str, Any]:
        """The row as JSON, with its ratio to the trivial Strawberry rung."""
        return {
            "rung": self.number,
            "name": self.name,
            "backend": self.backend,
            "connections": self.connections,
            "requests_per_second": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "to_strawberry": round(self.rate / floor, 3) if floor else None,
            "seconds": round(self.seconds, 2),
            "bad_answers": self.bad,
            "note": self.note,
        }


class Ladder:
    """Runs rungs, keeps their rows and notes, and prints them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.demos: dict[int, dict[str, Any]] = {}
        self.children = Children()

    def body(self, name: str, query: str, variables: dict[str, Any] | None = None) -> Path:
        """Write a request body file for wrk."""
        return Load.write_body(self.directory / f"{name}.json", query, variables)

    def rung(
        self,
        number: int,
        name: str,
        backend: str,
        targets: Sequence[Load],
        feed: Feed,
        *,
        connections: int = CONNECTIONS,
        hint: Row | None = None,
        baseline: Row | None = None,
    ) -> Row:
        """Warm up, then measure; print the row at once and keep it.

        :param hint: the rung of the same requests at fewer connections just before. It has
            warmed the server up (so no warm-up run here), and its rate predicts this one's:
            at many connections each request waits for all the others, so the measured run
            lasts at least ``ROUNDS`` rounds of them.
        :param baseline: a row to compare this one with (the note gives the ratio).
        """
        expected = max(hint.rate, 1.0) if hint else None
        warmup: list[Measured] = []
        if expected is None:
            warmup = self.run(targets, feed, WARMUP, connections, None)
        seconds = max(SECONDS, ROUNDS * connections / expected) if expected else SECONDS
        if isinstance(feed, Listed):
            lasting = feed.left / (max(sum(run.rate for run in warmup), 1.0) * HEADROOM)
            seconds = max(1.0, min(seconds, lasting))
        runs = self.run(targets, feed, seconds, connections, expected)
        note = f"{sum(r.rate for r in runs) / baseline.rate:.2f}x one" if baseline else ""
        row = Row(number, name, backend, connections, tuple(runs), tuple(warmup), note)
        self.rows.append(row)
        print(f"  {line(row, self.floor)}", flush=True)
        return row

    @staticmethod
    def run(
        targets: Sequence[Load],
        feed: Feed,
        seconds: float,
        connections: int,
        expected: float | None,
    ) -> list[Measured]:
        """One wrk process per target at once. Then wait while the servers finish the requests
        wrk left in flight (closing a connection does not cancel its request): by Little's
        law, the connections over each target's rate (or the ``expected`` one)."""
        results = run_fed(targets, feed, seconds=seconds, connections=connections)
        rate = sum(result.rate for result in results) / len(results) or expected
        time.sleep(min(MAX_PAUSE, connections / rate) if rate else MAX_PAUSE)
        return results

    def note(self, text: str) -> None:
        """Keep (and print) a remark for under the table."""
        self.notes.append(text)
        print(f"  ({text})", flush=True)

    @property
    def floor(self) -> float | None:
        """The trivial Strawberry rung's rate, once measured."""
        return next((row.rate for row in self.rows if row.number == 2), None)

    def table(self) -> str:
        """Every row in rung order, then the demo timings and the notes."""
        ordered = sorted(self.rows, key=lambda row: row.number)
        header = (
            f"{'#':>2} {'rung':<34} {'backend':<10} {'conn':>4} {'req/s':>8} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'/straw':>7} {'bad':>4}  note"
        )
        lines = [header, "-" * len(header), *(line(row, self.floor) for row in ordered)]
        for families, summary in self.demos.items():
            phases = ", ".join(f"{k} {v:.1f}" for k, v in summary["phase_seconds"].items())
            lines.append(
                f" 9 ruxue demo, {families} families: {phases}; "
                f"total {summary['elapsed_seconds']:.1f} s"
            )
        lines += [f"   note: {text}" for text in self.notes]
        return "\n".join(lines)

    def report(self, bench_seconds: float) -> dict[str, Any]:
        """Everything as JSON."""
        return {
            "seconds_per_rung": SECONDS,
            "warmup_seconds": WARMUP,
            "rungs": [row.figures(self.floor) for row in sorted(self.rows, key=lambda r: r.number)],
            "demo": {
                str(families): {
                    "phase_seconds": summary["phase_seconds"],
                    "elapsed_seconds": summary["elapsed_seconds"],
                    "applications": summary["applications"],
                }
                for families, summary in self.demos.items()
            },
            "notes": self.notes,
            "bench_seconds": round(bench_seconds, 1),
        }


def line(row: Row, floor: float | None) -> str:
    """One table line."""
    ratio = f"{row.rate / floor:7.3f}" if floor else f"{'-':>7}"
    note = " ".join(part for part in (row.note, row.sample[:120]) if part)
    return (
        f"{row.number:>2} {row.name:<34} {row.backend:<10} {row.connections:>4} "
        f"{row.rate:8.1f} {row.p50_ms:8.1f} {row.p99_ms:8.1f} {ratio} {row.bad:>4}  {note}"
    )


@dataclass(frozen=True, slots=True)
class Tokens:
    """Development bearer tokens issued by ``ruxue token`` on one deployment."""

    guardian: str
    counter: str

    @classmethod
    def issue(cls, deployment: Deployment) -> Tokens:
        """The verified guardian who submits, and counter staff of the guardian's township."""
        return cls(
            guardian=deployment.token(
                "--role", "guardian", "--name", GUARDIAN_NAME, "--id-number", GUARDIAN_ID
            ),
            counter=deployment.token("--role", "counter_staff", "--region", TOWNSHIP),
        )


def floor_rungs(ladder: Ladder, processes: Processes) -> None:
    """Rungs 1 and 2: the raw Starlette endpoint and the trivial Strawberry schema."""
    body = ladder.body("hello", HELLO)
    for number, app, name in (
        (1, "starlette", "Starlette JSON POST (floor)"),
        (2, "strawberry", "Strawberry { hello } (floor)"),
    ):
        port = free_port()
        argv = [sys.executable, str(FLOOR), app, "--port", str(port)]
        url = processes.serve(app, argv, environment({}), port)
        ladder.rung(number, name, "-", [Load(f"{url}/graphql", body, HELLO_OK)], Static())


def submit_body(ladder: Ladder) -> Path:
    """A guardian's submission with the child's ID number left to ``ladder.lua``."""
    variables = {
        "input": {
            "seasonCode": SEASON,
            "child": {"name": "张小明", "idNumber": PLACEHOLDER},
            "guardian": {"name": GUARDIAN_NAME, "idNumber": GUARDIAN_ID},
            "guardianPhone": "13812345678",
            "relationship": "FATHER",
            "address": "燕矶镇新街10号",
            "townshipCode": TOWNSHIP,
        }
    }
    return ladder.body("submit", SUBMIT, variables)


def submit_one(url: str, body: Path, token: str) -> dict[str, Any]:
    """One submission outside the ladder's children (for the status lookup to find)."""
    child = make_national_id("420704", date(2020, 8, 31), 999)
    response = httpx.post(
        url,
        content=body.read_text(encoding="utf-8").replace(PLACEHOLDER, child),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    result: dict[str, Any] = response.json()["data"]["submitApplication"]
    assert result["__typename"] == "SubmitApplicationSuccess", result
    return result


def app_rungs(ladder: Ladder, deployment: Deployment, tokens: Tokens, processes: Processes) -> None:
    """Rungs 3, 4, 8 and 5 (or 6: the same on PostgreSQL) against one ``ruxue serve``."""
    backend = deployment.backend
    status_no, submit_no, review_no = (3, 4, 5) if backend == "sqlite" else (6, 6, 6)
    url = deployment.serve(processes, f"{deployment.name}-serve") + "/graphql"
    submit = Load(url, submit_body(ladder), SUBMIT_OK, tokens.guardian)
    known = submit_one(url, submit.body, tokens.guardian)
    lookup = {"receiptNo": known["receiptNo"], "queryCode": known["queryCode"]}
    status = Load(url, ladder.body(f"status-{backend}", STATUS, lookup), STATUS_OK)
    ladder.rung(status_no, "applicationStatus", backend, [status], Static())
    few = ladder.rung(submit_no, "submitApplication", backend, [submit], ladder.children)
    settle(ladder, deployment, processes, "the submit rung")
    ladder.rung(
        8, "submitApplication", backend, [submit], ladder.children, connections=MANY, hint=few
    )
    settle(ladder, deployment, processes, f"the {MANY}-connection submit rung")
    ids = Listed(ladder.directory / f"review-{backend}.txt", deployment.in_manual_review())
    variables = {"input": {"applicationId": PLACEHOLDER, "decision": "APPROVE", "comment": "压测"}}
    review = Load(url, ladder.body("review", REVIEW, variables), REVIEW_OK, tokens.counter)
    ladder.rung(review_no, "reviewApplication (approve)", backend, [review], ids)
    ladder.note(f"{backend}: {ids.total} applications in manual review, {ids.next} approved")


def settle(ladder: Ladder, deployment: Deployment, processes: Processes, after: str) -> None:
    """Wait for the workers to finish the jobs a rung queued, and note how long that took."""
    seconds = deployment.settle(processes)
    ladder.note(f"{deployment.backend}: outbox drained {seconds:.1f} s after {after}")


def scale_rungs(ladder: Ladder, deployment: Deployment, tokens: Tokens, logs: Path) -> None:
    """Rung 7: submissions through one gateway and one worker, then through two of each."""
    body = submit_body(ladder)
    with Processes(logs) as processes:
        one_url = deployment.serve(processes, "gateway-a", worker=False) + "/graphql"
        deployment.worker(processes, "worker-a")
        one = Load(one_url, body, SUBMIT_OK, tokens.guardian)
        single = ladder.rung(
            7, "submit, 1 gateway + 1 worker", deployment.backend, [one], ladder.children
        )
        settle(ladder, deployment, processes, "one gateway's submit rung")
        two_url = deployment.serve(processes, "gateway-b", worker=False) + "/graphql"
        deployment.worker(processes, "worker-b")
        two = Load(two_url, body, SUBMIT_OK, tokens.guardian)
        ladder.rung(
            7,
            "submit, 2 gateways + 2 workers",
            deployment.backend,
            [one, two],
            ladder.children,
            baseline=single,
        )
        settle(ladder, deployment, processes, "two gateways' submit rung")


def demo(ladder: Ladder, families: int) -> None:
    """Rung 9: ``ruxue demo`` at this many families; keep its summary (phase timings)."""
    out = ladder.directory / f"demo-{families}.json"
    completed = subprocess.run(
        [
            *RUXUE,
            "demo",
            "--families",
            str(families),
            "--json",
            str(out),
            "--data-dir",
            str(ladder.directory / f"demo-{families}"),
        ],
        env=environment({}),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:] or completed.stdout[-3000:]
    summary: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    ladder.demos[families] = summary
    print(f"  9 ruxue demo, {families} families: {summary['phase_seconds']}", flush=True)


def machine() -> str:
    """The CPUs and how busy the machine is (other work skews every figure)."""
    loads = " ".join(f"{load:.1f}" for load in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {loads}"


def test_ladder(tmp_path: Path) -> None:
    """Every rung side by side in one run; then the table."""
    if wrk_path() is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    started = time.perf_counter()
    ladder = Ladder(tmp_path)
    logs = tmp_path / "logs"
    print(f"\nHTTP ladder: wrk -t1 -c{CONNECTIONS}, {SECONDS:g} s per rung after {WARMUP:g} s")
    ladder.note(f"at the start: {machine()}")
    with Processes(logs) as processes:
        floor_rungs(ladder, processes)
    sqlite = Deployment("sqlite", tmp_path / "sqlite")
    sqlite.prepare()
    with Processes(logs) as processes:
        app_rungs(ladder, sqlite, Tokens.issue(sqlite), processes)
    postgres_rungs(ladder, tmp_path, logs)
    for families in FAMILIES:
        demo(ladder, families)

    ladder.note(f"at the end: {machine()}")
    bench_seconds = time.perf_counter() - started
    print(f"\n{ladder.table()}\n(bench took {bench_seconds:.0f} s)")
    if target := os.environ.get("RUXUE_BENCH_JSON"):
        report = ladder.report(bench_seconds)
        Path(target).write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")

    expected = {1, 2, 3, 4, 5, 8} | ({6, 7} if POSTGRES != "off" else set())
    assert {row.number for row in ladder.rows} >= expected
    bad = {f"{row.number} {row.name} ({row.backend})": row.sample for row in ladder.rows if row.bad}
    assert not bad, bad


def postgres_rungs(ladder: Ladder, directory: Path, logs: Path) -> None:
    """Rungs 6, 7 and 8 on a fresh PostgreSQL database (dropped afterwards)."""
    if POSTGRES == "off":
        ladder.note("PostgreSQL rungs skipped (RUXUE_BENCH_POSTGRES_URL=off)")
        return
    if problem := postgres_unavailable(POSTGRES):
        pytest.fail(f"PostgreSQL at {POSTGRES} unreachable ({problem}); set it to off to skip")
    with fresh_postgres(POSTGRES) as url:
        deployment = Deployment("postgresql", directory / "postgresql", url)
        deployment.prepare()
        tokens = Tokens.issue(deployment)
        with Processes(logs) as processes:
            app_rungs(ladder, deployment, tokens, processes)
        scale_rungs(ladder, deployment, tokens, logs)
