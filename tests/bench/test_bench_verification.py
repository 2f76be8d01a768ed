"""Verification throughput against the sandbox departments answering after 50 ms, as a
fraction of the concurrency bound: per-source limit ÷ latency (checks per second a source can
give at most). Aim: ≥ 0.8.

The three sandbox department services run as their own process on loopback ports
(``python -m ruxue_sandbox``), as departments would: the worker's process spends its CPU on
its own work only, and the verifiers are the bundled plugins selected and pointed at the
sandbox by configuration alone. Two figures, in one run:

- **engine**: the check engine alone (``ruxue_core.checks.run_checks``) with the real
  verifier plugin over signed HTTP, many checks of one source;
- **jobs**: whole applications through the outbox worker (``verification.run`` jobs, each
  five checks, evidence, assessment and the lifecycle step on the test database, besides the
  SMS and provincial-record jobs the transitions queue); the busiest source is hukou (two
  checks per application), so its checks per second (counted from the stored evidence) are
  compared with the bound.

Both run with the collector as ``ruxue worker`` sets it once started (``heap.settle``: the
start-up heap frozen, young collections every 5,000 allocations rather than 700).

Below the aim each figure says what limits it: the worker process's CPU (busy share of the
run, and CPU per application against what the bound allows one application) or, when the
CPU was not busy, idle per-source slots.

A last jobs run has the departments answer after 200 ms: its bound (40 hukou checks/s) asks
a quarter of the CPU the 50 ms bound does, so where the 50 ms figure is held down by the
worker's CPU this one shows whether the pipeline itself keeps every slot busy.

The jobs figure is printed twice per worker count: ``barrier`` (the former loop: a batch
claimed and run to its end before the next claim, so the batch's slowest job idles every
slot) and ``pipeline`` (the worker's loop: slots refilled as soon as half are free), so the
run shows before and after side by side. ``RUXUE_BENCH_PROFILE=<dir>`` writes a
pyinstrument profile of each jobs run there.

Each figure is the median of three runs, printed with the runs beside it (run with ``-s``);
machines are noisy, so nothing here is a pass/fail time.
It asserts only that every check answered and every application was verified.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from conftest import SAMPLE_SEASON, open_sample_season
from server_start import free_port, wait_until_up
from sqlmodel import col, func, select

from ruxue_core import DepartmentOptions, heap
from ruxue_core.checks import SourceGuards, run_checks
from ruxue_core.domain import Evidence
from ruxue_core.domain.enums import Outcome, Relationship, Role
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import Principal, VerificationRequest
from ruxue_core.plugins.host import SelectedVerifier
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import PersonInput, SubmitApplication, submit_application
from ruxue_core.settings import Settings, VerificationSettings, WorkerSettings
from ruxue_sandbox import (
    DEPARTMENTS,
    SANDBOX_APP_KEY,
    SANDBOX_SECRET,
    Family,
    Population,
    make_population,
    season_places,
)
from ruxue_verifier_gongan import GonganVerifier

from .servers import Processes

LATENCY: Final = 0.05
SLOW: Final = 0.2
LIMIT: Final = 8
BOUND: Final = LIMIT / LATENCY
CHECKS: Final = 400
APPLICATIONS: Final = 240
REPETITIONS: Final = 3
FAMILIES: Final = max(CHECKS, APPLICATIONS * REPETITIONS)
"""The sandbox's population: every jobs repetition submits families of its own."""
SEED: Final = 11
AIM: Final = 0.8


@contextmanager
def profiled(label: str) -> Iterator[None]:
    """Profile the block with pyinstrument when ``RUXUE_BENCH_PROFILE`` names a directory
    (``pip install pyinstrument``); the text report lands there as ``<label>.txt``."""
    directory = os.environ.get("RUXUE_BENCH_PROFILE")
    if not directory:
        yield
        return
    from pyinstrument import Profiler  # type: ignore[import-not-found, unused-ignore]

    profiler = Profiler(async_mode="enabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        report = profiler.output_text(unicode=True, show_all=False)
        (Path(directory) / f"{label}.txt").write_text(report, encoding="utf-8")


def _population() -> Population:
    """The families the sandbox process holds: the same seed and size give the same ones."""
    season = tomllib.loads(Path(SAMPLE_SEASON).read_text(encoding="utf-8"))
    places, materials = season_places(season)
    return make_population(FAMILIES, seed=SEED, places=places, materials=materials)


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports nobody listens on (the sandbox serves
    its departments on consecutive ports)."""
    for _ in range(100):
        first = random.randint(20_000, 60_000)
        if all(free_port_is(first + n) for n in range(count)):
            return first
    return free_port()


def free_port_is(port: int) -> bool:
    """Whether nothing listens on loopback ``port``."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def _departments(logs: Path, latency: float) -> Iterator[dict[str, str]]:
    """The three department services in their own process, answering after ``latency``
    seconds; department name → base URL."""
    first = _free_ports(len(DEPARTMENTS))
    argv = [
        *(sys.executable, "-m", "ruxue_sandbox", "--season", str(SAMPLE_SEASON)),
        *("--families", str(FAMILIES), "--seed", str(SEED), "--latency", str(latency)),
        *("--host", "127.0.0.1", "--port", str(first)),
    ]
    urls = {name: f"http://127.0.0.1:{first + n}" for n, name in enumerate(DEPARTMENTS)}
    with Processes(logs) as processes:
        process = processes.start("sandbox", argv, os.environ)
        for url in urls.values():
            wait_until_up(url, process, "sandbox", lambda: processes.tail("sandbox"))
        yield urls


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The departments answering after ``LATENCY`` (the figure the aim is about)."""
    with _departments(tmp_path_factory.mktemp("sandbox"), LATENCY) as urls:
        yield urls


@pytest.fixture(scope="module")
def slow_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The departments answering after ``SLOW``: a bound low enough that the worker's CPU
    is not what limits, so the figure shows whether the pipeline keeps every slot busy."""
    with _departments(tmp_path_factory.mktemp("slow-sandbox"), SLOW) as urls:
        yield urls


@contextmanager
def settled_heap() -> Iterator[None]:
    """The collector as ``ruxue worker`` sets it after start-up (:func:`heap.settle`), then as
    it was, so that the runs after this one start alike."""
    threshold = gc.get_threshold()
    heap.settle()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@contextmanager
def cpu_meter() -> Iterator[dict[str, float]]:
    """Wall and this process's CPU seconds spent in the block (``wall``, ``cpu``)."""
    figures: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield figures
    finally:
        figures["wall"] = time.perf_counter() - wall
        figures["cpu"] = time.process_time() - cpu


def limiter(
    fraction: float,
    figures: dict[str, float],
    per_unit: float,
    units: int,
    latency: float = LATENCY,
) -> str:
    """What held the figure below the aim: the worker's CPU cost, the CPU a busy machine gave
    it, or waiting (each check's round trip longer than the latency, or idle slots).

    :param per_unit: bound checks one unit of work brings (1 per check, 2 per application).
    :param latency: the departments' latency the run was measured at (its bound is
        ``LIMIT / latency``).
    """
    bound = LIMIT / latency
    busy = figures["cpu"] / figures["wall"]
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    cpu_ms = 1000 * figures["cpu"] / units
    machine = f"machine load {load:.1f} per core"
    if fraction >= AIM:
        return f"at the aim; worker CPU {busy:.0%} busy, {machine}"
    on_a_core = min(1.0, per_unit * 1000 / cpu_ms / bound)
    cost = f"{cpu_ms:.1f} ms CPU per unit (the bound allows {1000 * per_unit / bound:.1f})"
    if on_a_core < AIM:
        return (
            f"limited by the worker's CPU cost: {cost}, so even a free core would give about "
            f"{on_a_core:.2f}; worker CPU {busy:.0%} busy, {machine}"
        )
    if busy >= 0.75:
        return f"limited by the worker's CPU, {busy:.0%} busy: {cost}; {machine}"
    if load > 1.0 and busy * AIM / fraction > 0.75:  # at the aim it would need a whole core
        return (
            f"limited by the CPU a busy machine gave the worker, {busy:.0%} of a core: {cost}, "
            f"so a free core would give about {on_a_core:.2f}; {machine}"
        )
    round_trip = 1000 * LIMIT / (fraction * bound)
    return (
        f"limited by waiting, not the worker's CPU ({busy:.0%} busy, {cost}): with every slot "
        f"full a check took {round_trip:.0f} ms against {latency * 1000:.0f} ms latency (time "
        f"in the sandbox process and on the wire, or slots idle); {machine}"
    )


async def test_engine_throughput_against_the_bound(sandbox: dict[str, str]) -> None:
    families = _population().families[:CHECKS]
    options = DepartmentOptions(sandbox["gongan"], SANDBOX_APP_KEY, SANDBOX_SECRET, 5.0)
    verifier = GonganVerifier(options)
    selected = SelectedVerifier("gongan", ("hukou",), verifier)
    rates, runs = [], []
    for _ in range(REPETITIONS):
        guards = SourceGuards(VerificationSettings(per_source_limit=LIMIT))
        requests = [
            VerificationRequest(
                "hukou",
                "child",
                f.child_id,
                f.child_name,
                f.address,
                "义务教育入学报名资格核验",
                uuid.uuid4().hex,
                consent_ref="bench",
            )
            for f in families
        ]
        with settled_heap(), cpu_meter() as figures:
            results = await run_checks([(selected, r) for r in requests], guards)
        rates.append(len(results) / figures["wall"])
        runs.append(figures)
        assert all(r.outcome is not Outcome.SOURCE_UNAVAILABLE for r in results)
    await verifier.aclose()
    rate = statistics.median(rates)
    median_run = runs[rates.index(rate)]
    print(
        f"\nverification engine (sandbox on loopback): {rate:.1f} checks/s at "
        f"{LATENCY * 1000:.0f} ms, limit {LIMIT} → bound {BOUND:.0f}/s; "
        f"fraction {rate / BOUND:.2f}; {limiter(rate / BOUND, median_run, 1, CHECKS)}"
    )


async def _barrier_drain(worker: Worker) -> None:
    """The former worker loop, for comparison: claim a batch, run it to its end, repeat."""
    while await worker.run_once():
        pass


@pytest.mark.parametrize(
    ("batch", "workers", "flow", "latency"),
    [
        (50, 1, "barrier", LATENCY),
        (50, 1, "pipeline", LATENCY),
        (50, 4, "barrier", LATENCY),
        (50, 4, "pipeline", LATENCY),
        (50, 1, "pipeline", SLOW),
    ],
)
async def test_job_throughput_against_the_bound(
    request: pytest.FixtureRequest,
    settings: Settings,
    season_file: SeasonFile,
    batch: int,
    workers: int,
    flow: str,
    latency: float,
) -> None:
    """``barrier``: each batch runs to its end before the next claim (before); ``pipeline``:
    the worker's own loop, refilling as slots free up (after). At ``SLOW`` latency the bound
    asks a quarter of the CPU per second, so the figure isolates the pipeline."""
    sandbox: dict[str, str] = request.getfixturevalue(
        "slow_sandbox" if latency == SLOW else "sandbox"
    )
    bound = LIMIT / latency
    people = _population().families
    tuned = settings.model_copy(
        update={
            "verifiers": list(DEPARTMENTS),
            "plugin_options": {name: {"base_url": url} for name, url in sandbox.items()},
            "verification": VerificationSettings(per_source_limit=LIMIT),
            "worker": WorkerSettings(batch_size=batch),
        }
    )
    runtime = Runtime.create(tuned)
    runs: list[dict[str, float]] = []
    try:
        season = await open_sample_season(runtime, season_file)
        for repetition in range(REPETITIONS):
            families = people[repetition * APPLICATIONS : (repetition + 1) * APPLICATIONS]
            await _submit(runtime, season, families)
            crew = [Worker(runtime, HANDLERS, worker_id=f"bench-{n}") for n in range(workers)]
            label = f"jobs-{batch}-{workers}-{flow}-{latency}-{repetition}"
            with settled_heap(), profiled(label), cpu_meter() as figures:
                if flow == "barrier":
                    await asyncio.gather(*(_barrier_drain(worker) for worker in crew))
                else:
                    await asyncio.gather(*(worker.drain() for worker in crew))
            figures["hukou"] = await _hukou_checks(runtime) - sum(r["hukou"] for r in runs)
            runs.append(figures)
    finally:
        await runtime.close()
    assert all(r["hukou"] == 2 * APPLICATIONS for r in runs)
    rates = [r["hukou"] / r["wall"] for r in runs]
    rate = statistics.median(rates)
    median_run = runs[rates.index(rate)]
    seconds = median_run["wall"]
    why = limiter(rate / bound, median_run, 2, APPLICATIONS, latency)
    print(
        f"\nverification jobs (sandbox on loopback, {latency * 1000:.0f} ms; median of "
        f"{REPETITIONS}): {APPLICATIONS} applications in {seconds:.1f} s "
        f"({APPLICATIONS / seconds:.1f}/s); hukou {rate:.1f} checks/s vs bound {bound:.0f}/s "
        f"(batch {batch}, {workers} worker(s), {flow}); fraction {rate / bound:.2f} "
        f"(runs {', '.join(f'{r / bound:.2f}' for r in rates)}); {why}"
    )


async def _submit(runtime: Runtime, season: str, families: Sequence[Family]) -> None:
    """Submit an application for each family at the counter, with consent."""
    counter = Principal("c", Role.COUNTER_STAFF, "窗口")
    for family in families:
        township = family.place.township_code
        await submit_application(
            runtime,
            SubmitApplication(
                season,
                PersonInput(family.child_name, family.child_id),
                PersonInput(family.guardian_name, family.guardian_id),
                family.phone,
                Relationship(family.relationship),
                family.address,
                township,
                consent=True,
            ),
            Principal(counter.id, counter.role, counter.name, region_code=township),
        )


async def _hukou_checks(runtime: Runtime) -> int:
    """Hukou answers stored so far (two per application: child and guardian)."""
    return await runtime.read(
        lambda uow: uow.session.exec(
            select(func.count()).select_from(Evidence).where(col(Evidence.source) == "hukou")
        ).one()
    )
