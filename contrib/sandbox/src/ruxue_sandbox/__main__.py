"""Run the three sandbox department services as one process on loopback ports::

    python -m ruxue_sandbox --season contrib/seasons/linkong-2026-primary.toml \\
        --families 500 --seed 2026 --latency 0.05 --error-rate 0.1

公安 on ``--port`` (default 8701), 自然资源 on the next port, 人社 on the one after: the
bundled verifiers' default ``base_url`` values (``--port 0``: three free ports). The
population is seeded, so the same arguments give the same families; ``--truth out.json``
writes each family's ground truth.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import tomllib
from dataclasses import asdict
from pathlib import Path

from ruxue_sandbox.departments import Faults, create_department_app
from ruxue_sandbox.population import department_services, make_population, season_places
from ruxue_sandbox.server import serve_in_thread


def main(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> None:
    """Serve until interrupted (or until ``stop`` is set)."""
    parser = argparse.ArgumentParser(prog="python -m ruxue_sandbox", description=__doc__)
    parser.add_argument("--season", type=Path, required=True, help="season TOML (zones)")
    parser.add_argument("--families", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--timeout-rate", type=float, default=0.0)
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument("--truth", type=Path, help="write the ground truth as JSON here")
    args = parser.parse_args(argv)
    places, materials = season_places(tomllib.loads(args.season.read_text(encoding="utf-8")))
    population = make_population(args.families, seed=args.seed, places=places, materials=materials)
    services = department_services(population, seed=args.seed)
    for service in services.values():
        service.faults = Faults(
            latency=args.latency,
            error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            malformed_rate=args.malformed_rate,
        )
    if args.truth:
        truth = [asdict(f) | {"truth": asdict(population.truth(f))} for f in population.families]
        args.truth.write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    waiting = stop or threading.Event()
    ports = [0, 0, 0] if args.port == 0 else [args.port + i for i in range(3)]
    with contextlib.ExitStack() as stack:
        for (name, service), port in zip(services.items(), ports, strict=True):
            url = stack.enter_context(
                serve_in_thread(create_department_app(service), args.host, port)
            )
            print(f"{name}: {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            waiting.wait()


if __name__ == "__main__":
    main()
