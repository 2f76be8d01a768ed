"""The collector settings a long-running process takes after start-up."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from ruxue_core import heap


class Node:
    """An object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Each test leaves the collector as it found it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    permanent = Node()
    gc.set_threshold(700, 10, 10)
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
    assert not any(obj is permanent for obj in gc.get_objects())


def test_a_higher_threshold_is_kept() -> None:
    gc.set_threshold(50_000, 20, 10)
    heap.settle()
    assert gc.get_threshold() == (50_000, 20, 10)


def test_cycles_made_after_settling_are_still_collected() -> None:
    heap.settle()
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    gc.collect()
    assert gone() is None
