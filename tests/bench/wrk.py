"""Running wrk (one thread per process) with ``ladder.lua``, and what each run measured."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Protocol

SCRIPT: Final = Path(__file__).with_name("ladder.lua")
PLACEHOLDER: Final = "@VALUE@"
"""Where ``ladder.lua`` puts each request's value (a child's ID number, an application id)."""
TIMEOUT: Final = "60s"
"""wrk's per-request timeout: long enough that a slow answer is measured, not dropped."""


def wrk_path() -> str | None:
    """The wrk executable, if installed."""
    return shutil.which("wrk")


class Feed(Protocol):
    """Where the values of a run's requests come from (``ladder.lua``'s value source)."""

    def take(self, parallel: int) -> list[tuple[str, ...]]:
        """Script arguments for ``parallel`` wrk processes run at once."""
        ...

    def advance(self, sent: Sequence[int]) -> None:
        """Skip the values those processes used (each sent request used one)."""
        ...


class Static:
    """No values: every request sends the same body."""

    def take(self, parallel: int) -> list[tuple[str, ...]]:
        """No script arguments."""
        return [()] * parallel

    def advance(self, sent: Sequence[int]) -> None:
        """Nothing to skip."""


class Children:
    """New children's resident ID numbers for ``submitApplication``: never one twice in a run
    of fewer than 366,000 (``ladder.lua`` makes the n-th from an offset, a 3-digit sequence on
    each birth day of the season; parallel runs interleave by stride)."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, parallel: int) -> list[tuple[str, ...]]:
        """Offsets and stride for ``parallel`` interleaved processes."""
        return [("children", str(self.next + i), str(parallel)) for i in range(parallel)]

    def advance(self, sent: Sequence[int]) -> None:
        """Skip every number the busiest process reached, in every lane."""
        self.next += len(sent) * max(sent)


class Listed:
    """Values from a file, one per line, each used once (application ids to review)."""

    def __init__(self, path: Path, values: Sequence[object]) -> None:
        path.write_text("".join(f"{value}\n" for value in values), encoding="utf-8")
        self.path = path
        self.total = len(values)
        self.next = 0

    @property
    def left(self) -> int:
        """Values not used yet."""
        return self.total - self.next

    def take(self, parallel: int) -> list[tuple[str, ...]]:
        """The file and the first unused line (one process only: values are used once)."""
        assert parallel == 1, "a listed feed serves one wrk process"
        return [("list", str(self.path), str(self.next))]

    def advance(self, sent: Sequence[int]) -> None:
        """Skip what the run used."""
        self.next += sum(sent)


@dataclass(frozen=True, slots=True)
class Load:
    """What one wrk process sends: a JSON body (with an optional placeholder) to one URL."""

    url: str
    body: Path
    marker: str
    """A string every good answer contains (``"__typename":"…Success"``)."""
    token: str | None = None
    source: tuple[str, ...] = ()
    """``ladder.lua``'s value source arguments (filled in from a :class:`Feed`)."""

    @staticmethod
    def write_body(path: Path, query: str, variables: dict[str, Any] | None = None) -> Path:
        """Write a GraphQL request body to ``path``; return the path."""
        document = {"query": query, "variables": variables or {}}
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return path

    def command(self, *, seconds: float, connections: int) -> list[str]:
        """The wrk command line: one thread, ``--latency``, this script and its arguments."""
        headers = ["-H", "Content-Type: application/json"]
        if self.token is not None:
            headers += ["-H", f"Authorization: Bearer {self.token}"]
        return [
            wrk_path() or "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            f"--timeout={TIMEOUT}",
            *headers,
            "-s",
            str(SCRIPT),
            self.url,
            "--",
            str(self.body),
            self.marker,
            *self.source,
        ]


@dataclass(frozen=True, slots=True)
class Measured:
    """One wrk run's figures."""

    requests: int
    seconds: float
    sent: int
    p50_ms: float
    p99_ms: float
    wrong: int
    """Answers without the marker (a GraphQL error type, or an HTTP status other than 200)."""
    errors: int
    """Socket errors and timeouts, and HTTP statuses of 400 and over, as wrk counts them."""
    exhausted: int
    """Requests sent after a listed source ran out (each reused a value)."""
    sample: str = field(default="")
    """The first wrong answer, shortened."""

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds

    @property
    def bad(self) -> int:
        """Every answer that was not the expected success."""
        return self.wrong + self.errors + self.exhausted

    @classmethod
    def parse(cls, output: str) -> Measured:
        """Read the ``ladder NAME VALUE`` lines ``ladder.lua`` prints when done."""
        values: dict[str, str] = {}
        for line in output.splitlines():
            if line.startswith("ladder "):
                _, name, *rest = line.split(" ", 2)
                values[name] = rest[0] if rest else ""
        number = {name: int(value) for name, value in values.items() if name != "sample"}
        return cls(
            requests=number["requests"],
            seconds=number["duration_us"] / 1e6,
            sent=number["sent"],
            p50_ms=number["p50_us"] / 1000,
            p99_ms=number["p99_us"] / 1000,
            wrong=number["wrong"],
            errors=number["errors"],
            exhausted=number["exhausted"],
            sample=values.get("sample", ""),
        )


def run_wrk(loads: Sequence[Load], *, seconds: float, connections: int) -> list[Measured]:
    """Run one wrk process per load, all at once, and return each one's figures."""
    processes = [
        subprocess.Popen(
            load.command(seconds=seconds, connections=connections),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for load in loads
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=seconds + 120)
        if process.returncode != 0 or "ladder requests" not in out:
            raise RuntimeError(f"wrk failed ({process.returncode}): {err.strip() or out}")
        results.append(Measured.parse(out))
    return results


def run_fed(
    targets: Sequence[Load], feed: Feed, *, seconds: float, connections: int
) -> list[Measured]:
    """:func:`run_wrk` with each target's values taken from ``feed`` (then skipped there)."""
    sources = feed.take(len(targets))
    loads = [
        replace(target, source=source) for target, source in zip(targets, sources, strict=True)
    ]
    results = run_wrk(loads, seconds=seconds, connections=connections)
    feed.advance([result.sent for result in results])
    return results
