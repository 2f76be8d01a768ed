"""Per-request DataLoaders: what hangs off a page of applications (evidence, assessment,
consent, reviews, materials) is read once per page, one statement per kind, however many
applications it holds.

Each loader batches the ids its resolvers ask for in one event-loop tick and reads them in one
unit of work through the core, which cuts them by the caller's scope again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader

from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.views import AssessmentView, EvidenceView
from ruxue_core.services.worklist import (
    MAX_BATCH,
    MaterialView,
    ReviewView,
    assessments_for,
    consents_for,
    evidence_for,
    materials_for,
    reviews_for,
)

V = TypeVar("V")
BatchRead = Callable[
    [Runtime, Collection[int], Principal | None], Awaitable[dict[int, tuple[V, ...]]]
]


class Loaders:
    """The loaders of one request, for one principal; each is made when first used (most
    requests, the public lookup among them, use none)."""

    def __init__(self, runtime: Runtime, principal: Principal | None) -> None:
        self._runtime = runtime
        self._principal = principal

    @cached_property
    def evidence(self) -> DataLoader[int, tuple[EvidenceView, ...]]:
        """Department checks per application."""
        return _loader(self._runtime, self._principal, evidence_for)

    @cached_property
    def assessments(self) -> DataLoader[int, tuple[AssessmentView, ...]]:
        """The latest assessment per application (a tuple of one, or none)."""
        return _loader(self._runtime, self._principal, assessments_for)

    @cached_property
    def consents(self) -> DataLoader[int, tuple[str, ...]]:
        """The consent reference per application."""
        return _loader(self._runtime, self._principal, consents_for)

    @cached_property
    def reviews(self) -> DataLoader[int, tuple[ReviewView, ...]]:
        """Review decisions per application."""
        return _loader(self._runtime, self._principal, reviews_for)

    @cached_property
    def materials(self) -> DataLoader[int, tuple[MaterialView, ...]]:
        """Materials provided per application."""
        return _loader(self._runtime, self._principal, materials_for)


def _loader(
    runtime: Runtime, principal: Principal | None, read: BatchRead[V]
) -> DataLoader[int, tuple[V, ...]]:
    async def load(ids: list[int]) -> Sequence[tuple[V, ...]]:
        found = await read(runtime, ids, principal)
        return [found.get(i, ()) for i in ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)
