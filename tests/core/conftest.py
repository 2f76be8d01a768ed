"""Fixtures shared by the core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ruxue_core.runtime import Runtime

from .effect_jobs import effects_table


@pytest.fixture
async def effects(runtime: Runtime) -> AsyncIterator[None]:
    """The ``test_effect`` table of the ``test.effect`` job kind, for one test."""
    async with effects_table(runtime):
        yield
