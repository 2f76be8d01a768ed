"""Verification throughput against the sandbox departments answering after 50 ms, as a
fraction of the concurrency bound: per-source limit ÷ latency (checks per second a source can
give at most). Aim: ≥ 0.8.

Two figures, in one run:

- **engine**: the check engine alone (``ruxue_core.checks.run_checks``) with the real
  verifier plugins over signed HTTP to the in-process sandbox, many checks of one source;
- **jobs**: whole applications through the outbox worker (``verification.run`` jobs, each
  five checks, evidence, assessment and the lifecycle step on the test database); the busiest
  source is hukou (two checks per application), so its checks per second are compared with
  the bound.

The jobs figure is printed twice per worker count: ``barrier`` (the former loop: a batch
claimed and run to its end before the next claim, so the batch's slowest job idles every
slot) and ``pipeline`` (the worker's loop: slots refilled as soon as half are free), so the
run shows before and after side by side. ``RUXUE_BENCH_PROFILE=<dir>`` writes a
pyinstrument profile of each jobs run there.

Prints medians (run with ``-s``); machines are noisy, so nothing here is a pass/fail time.
It asserts only that every check answered and every application was verified.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import httpx
import pytest
from conftest import SAMPLE_SEASON, open_sample_season
from sandbox_verifiers import SandboxVerifiers

from ruxue_core import DepartmentOptions
from ruxue_core.checks import SourceGuards, run_checks
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
    SANDBOX_APP_KEY,
    SANDBOX_SECRET,
    Population,
    create_department_app,
    department_services,
    make_population,
    season_places,
)
from ruxue_verifier_gongan import GonganVerifier

LATENCY: Final = 0.05
LIMIT: Final = 8
BOUND: Final = LIMIT / LATENCY
CHECKS: Final = 400
APPLICATIONS: Final = 240
REPETITIONS: Final = 3
OPTIONS: Final = DepartmentOptions("http://sandbox", SANDBOX_APP_KEY, SANDBOX_SECRET, 5.0)


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


def _population(size: int) -> Population:
    season = tomllib.loads(Path(SAMPLE_SEASON).read_text(encoding="utf-8"))
    places, materials = season_places(season)
    return make_population(size, seed=11, places=places, materials=materials)


async def test_engine_throughput_against_the_bound() -> None:
    people = _population(CHECKS)
    services = department_services(people, seed=11)
    services["gongan"].faults.latency = LATENCY
    transport = httpx.ASGITransport(app=create_department_app(services["gongan"]))
    verifier = GonganVerifier(OPTIONS, transport=transport)
    selected = SelectedVerifier("gongan", ("hukou",), verifier)
    rates = []
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
            for f in people.families
        ]
        started = time.perf_counter()
        results = await run_checks([(selected, r) for r in requests], guards)
        rates.append(len(results) / (time.perf_counter() - started))
        assert all(r.outcome is not Outcome.SOURCE_UNAVAILABLE for r in results)
    await verifier.aclose()
    rate = statistics.median(rates)
    print(
        f"\nverification engine: {rate:.1f} checks/s at {LATENCY * 1000:.0f} ms, "
        f"limit {LIMIT} → bound {BOUND:.0f}/s; fraction {rate / BOUND:.2f}"
    )


async def _barrier_drain(worker: Worker) -> None:
    """The former worker loop, for comparison: claim a batch, run it to its end, repeat."""
    while await worker.run_once():
        pass


@pytest.mark.parametrize(
    ("batch", "workers", "flow"),
    [(50, 1, "barrier"), (50, 1, "pipeline"), (50, 4, "barrier"), (50, 4, "pipeline")],
)
async def test_job_throughput_against_the_bound(
    settings: Settings, season_file: SeasonFile, batch: int, workers: int, flow: str
) -> None:
    """``barrier``: each batch runs to its end before the next claim (before); ``pipeline``:
    the worker's own loop, refilling as slots free up (after)."""
    people = _population(APPLICATIONS)
    services = department_services(people, seed=11)
    for service in services.values():
        service.faults.latency = LATENCY
    tuned = settings.model_copy(
        update={
            "verifiers": ["sandbox-gongan", "sandbox-ziranziyuan", "sandbox-renshe"],
            "verification": VerificationSettings(per_source_limit=LIMIT),
            "worker": WorkerSettings(batch_size=batch),
        }
    )
    runtime = Runtime.create(tuned, extra_plugins=[SandboxVerifiers(services, timeout=5.0)])
    try:
        season = await open_sample_season(runtime, season_file)
        counter = Principal("c", Role.COUNTER_STAFF, "窗口")
        for family in people.families:
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
        started = time.perf_counter()
        crew = [Worker(runtime, HANDLERS, worker_id=f"bench-{n}") for n in range(workers)]
        with profiled(f"jobs-{batch}-{workers}-{flow}"):
            if flow == "barrier":
                await asyncio.gather(*(_barrier_drain(worker) for worker in crew))
            else:
                await asyncio.gather(*(worker.drain() for worker in crew))
        seconds = time.perf_counter() - started
    finally:
        await runtime.close()
    hukou = sum(1 for q in services["gongan"].queries if q.source == "hukou")
    assert hukou == 2 * APPLICATIONS
    rate = hukou / seconds
    print(
        f"\nverification jobs: {APPLICATIONS} applications in {seconds:.1f} s "
        f"({APPLICATIONS / seconds:.1f}/s); hukou {rate:.1f} checks/s vs bound {BOUND:.0f}/s "
        f"(batch {batch}, {workers} worker(s), {flow}); fraction {rate / BOUND:.2f}"
    )
