"""Run an ASGI app with uvicorn in a background thread on an ephemeral loopback port.

The demo and the tests use this so that plugins talk real HTTP to the sandbox services::

    with serve_in_thread(create_gongan_app(dataset)) as base_url:
        ...  # point the plugin at base_url
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

KEEP_ALIVE_SECONDS = 75
"""How long an idle connection stays open: longer than any client here keeps one (httpx 5 s,
the department client 30 s), so a client never sends on a connection the server is closing
(uvicorn's default of 5 s equals httpx's, and that race surfaced as a ``ReadError`` in the
demo's client after an idle phase)."""


@contextmanager
def serve_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    shutdown_timeout: float = 5.0,
) -> Iterator[str]:
    """Serve ``app`` until the block exits; yield its base URL (``http://127.0.0.1:PORT``).

    :param port: ``0`` picks a free port.
    :param startup_timeout: seconds to wait for the server to accept connections.
    :param shutdown_timeout: seconds to wait for a graceful stop before forcing it.
    :raises RuntimeError: when the server does not start in time.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        ws="none",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=max(1, int(shutdown_timeout / 2)),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"sandbox-{host}:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server on {host}:{port} did not start")
            time.sleep(0.01)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        yield f"http://{shown_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
