"""Placement engine: a district of a million, and side by side with the ``matching`` library.

- **A million applicants over 3,000 schools**, each with a derived list of four (zoned
  school, then the same-community, same-township and neighbouring-township tiers), seats for
  about 98 % of them: wall and CPU time of ``place`` (drawing every lottery number, ranking,
  deferred acceptance, outcomes and cut-offs), then the peak of what ``place`` allocates,
  measured by tracemalloc in a second run (tracing slows it, so that run is not timed), and
  the process's peak resident size.
- **Against matching** (hospital–resident game, resident-optimal) at 2,000 and 10,000
  applicants, on the same instances: our ``place`` from the applicants (median of three),
  against the library building its game from preference dictionaries and solving it once
  (it takes tens of seconds at 10,000; the dictionaries, which need our ranking, are
  prepared outside the clock). The results must be equal.

Prints the figures (run with ``-s``); machines are noisy, so compare the ratio, and never turn a
figure into a pass/fail threshold.
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Final

from matching.games import HospitalResident
from placement_instances import Instance, assignment, matching_game_input, random_instance

from ruxue_core.placement import Placement, place
from ruxue_core.placement.lottery import draw

MILLION: Final = 1_000_000
SCHOOLS: Final = 3_000
SIDE_BY_SIDE: Final = (2_000, 10_000)
REPETITIONS: Final = 3


def run(instance: Instance) -> Placement:
    return place(instance.schools, instance.applicants, draw(instance.seed))


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_million_applicants_over_3000_schools() -> None:
    started = time.perf_counter()
    instance = random_instance(applicants=MILLION, schools=SCHOOLS, seed=9)
    built = time.perf_counter() - started
    gc.collect()
    rss_before = peak_rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(instance)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_after = peak_rss_mb()
    placed = sum(1 for o in result.outcomes.values() if o.school is not None)
    by_tier: dict[str, int] = {}
    for outcome in result.outcomes.values():
        tier = outcome.tier.value if outcome.tier is not None else "coordinating"
        by_tier[tier] = by_tier.get(tier, 0) + 1
    seats = sum(s.capacity for s in instance.schools)
    assert placed == sum(c.admitted for c in result.cutoffs.values()) <= seats
    del result
    gc.collect()
    tracemalloc.start()
    run(instance)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nplacement, {MILLION:,} applicants over {SCHOOLS:,} schools ({seats:,} seats), "
        f"lists of 4 (instance built in {built:.1f} s)\n"
        f"  place: {wall:.1f} s wall, {cpu:.1f} s CPU; placed {placed:,}, by tier {by_tier}\n"
        f"  memory: tracemalloc peak during place {traced_peak / 2**20:.0f} MiB; process peak "
        f"RSS {rss_before:.0f} MiB before place, {rss_after:.0f} MiB after"
    )


def timed(work: Callable[[], object], repetitions: int) -> float:
    """Median seconds of ``work`` over ``repetitions`` runs."""
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_side_by_side_with_the_matching_library() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 200_000))  # the library recurses once per proposal
    try:
        lines = []
        for size in SIDE_BY_SIDE:
            instance = random_instance(applicants=size, schools=max(10, size // 300), seed=size)
            residents, hospitals, capacities = matching_game_input(instance, draw(instance.seed))

            started = time.perf_counter()
            game = HospitalResident.create_from_dictionaries(residents, hospitals, capacities)
            solved = game.solve(optimal="resident")
            their_time = time.perf_counter() - started  # one run: the library is slow
            theirs = {r.name: h.name for h, matched in solved.items() for r in matched}
            assert assignment({a: o.school for a, o in run(instance).outcomes.items()}) == theirs
            our_time = timed(partial(run, instance), REPETITIONS)
            lines.append(
                f"  {size:>6,} applicants, {len(capacities):>3} schools: ours "
                f"{our_time * 1000:8.1f} ms, matching {their_time * 1000:8.1f} ms, "
                f"ratio {their_time / our_time:5.1f} x"
            )
    finally:
        sys.setrecursionlimit(limit)
    print(
        "\nplacement against matching (ours: median of 3; theirs: one run; same result):\n"
        + "\n".join(lines)
    )
