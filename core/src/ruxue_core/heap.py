"""Garbage-collector settings for a long-running process (the server, a worker).

A started process holds a large, permanent heap: modules, SQLAlchemy mappers, the GraphQL
schema, plugins, the season's policy. CPython's cyclic collector walks all of it on every
full collection, and its default thresholds (a young collection every 700 allocations) make
a worker spend a large share of its CPU there: in the verification bench, about 2 ms of the
15 ms each application costs. :func:`settle` moves what start-up built out of the
collector's sight (``gc.freeze``) and collects young objects less often. Reference counting
still frees almost everything at once; only cycles wait a little longer.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 5_000
"""Allocations between young collections (CPython's default is 700)."""


def settle(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Collect once, freeze what survives (start-up's permanent objects), and raise the
    young generation's threshold to ``young_threshold`` (never lower it).

    Call it once start-up is done, before serving or working: objects alive now are never
    examined again, so freezing later would also keep alive any cycle that dies afterwards.
    """
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, young_threshold), middle, old)
