"""Review routing: the season chooses who reviews a verified application (学校或区社会事务局
审核): the zoned school, the bureau, or the school then the bureau. An application without a
zoned school goes to the bureau, whatever the route (no school could see it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruxue_core.lifecycle import Event
from ruxue_core.policy import ReviewRoute


def route_of(policy: Mapping[str, Any]) -> ReviewRoute:
    """The review route a season's stored policy names (default: school then bureau)."""
    value = policy.get("verification", {}).get("review_route")
    return ReviewRoute(value) if value else ReviewRoute.SCHOOL_THEN_BUREAU


def _to_school(route: ReviewRoute, has_school: bool) -> bool:
    return has_school and route is not ReviewRoute.BUREAU


def after_verification(route: ReviewRoute, *, has_school: bool) -> Event:
    """The event that moves a verified application on to its first review."""
    return Event.PASS_VERIFICATION if _to_school(route, has_school) else Event.PASS_TO_BUREAU


def after_manual_confirmation(route: ReviewRoute, *, has_school: bool) -> Event:
    """The event that moves a manually confirmed application on to its first review."""
    return Event.CONFIRM_MANUALLY if _to_school(route, has_school) else Event.CONFIRM_TO_BUREAU


def after_school_approval(route: ReviewRoute) -> Event:
    """The school's approval: final when the route is school only, else on to the bureau."""
    return Event.APPROVE_FINAL if route is ReviewRoute.SCHOOL else Event.APPROVE
