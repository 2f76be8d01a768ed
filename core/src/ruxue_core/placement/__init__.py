"""Admission placement: derived lists, deferred acceptance, explanations, the lottery.

Pure and typed, with no database: the season's use cases feed it and store what it returns.
See docs/placement.md for the rules as the public reads them.
"""

from ruxue_core.placement.engine import feeder_first, place
from ruxue_core.placement.explain import explain
from ruxue_core.placement.model import (
    Applicant,
    Choice,
    Cutoff,
    Lottery,
    Outcome,
    Placement,
    Priority,
    School,
    Tier,
    UnplacedReason,
)

__all__ = [
    "Applicant",
    "Choice",
    "Cutoff",
    "Lottery",
    "Outcome",
    "Placement",
    "Priority",
    "School",
    "Tier",
    "UnplacedReason",
    "explain",
    "feeder_first",
    "place",
]
