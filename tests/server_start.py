"""Starting a server process for a test: a free loopback port, and the one wait until its
``/healthz`` answers. Every test and benchmark that starts ``ruxue serve`` (or another server)
in its own process waits here, with one start-up allowance."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

STARTUP_SECONDS: Final = 120.0
"""How long a server may take to answer ``/healthz``: generous, since CI machines are slow
and shared (imports, migrations and the embedded sandbox all run before the first answer;
``ruxue serve`` in embedded mode on PostgreSQL was seen to take over 60 s on a loaded
two-core machine)."""
POLL_SECONDS: Final = 0.2


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(
    url: str,
    process: subprocess.Popen[Any],
    name: str = "ruxue serve",
    output: Callable[[], str] = lambda: "",
) -> str:
    """Wait until the server ``process`` answers ``GET {url}/healthz`` with 200; return ``url``.

    :param output: what the process printed, for the failure message (called only on failure).
    :raises RuntimeError: the process exited, or did not answer within ``STARTUP_SECONDS``.
    """
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {output()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{name} did not answer /healthz in {STARTUP_SECONDS:.0f} s: {output()}")
