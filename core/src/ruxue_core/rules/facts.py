"""The fact vocabulary: which checks exist, what each proves, and the predicates that season
rules combine into categories. Pure data, shared by the policy loader and the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ruxue_core.domain.enums import Source

Check = tuple[str, str]
"""One department check: (source, subject), e.g. ``("hukou", "child")``."""

CHILD_HUKOU: Final[Check] = (Source.HUKOU.value, "child")
GUARDIAN_HUKOU: Final[Check] = (Source.HUKOU.value, "guardian")
GUARDIAN_PROPERTY: Final[Check] = (Source.PROPERTY.value, "guardian")
GUARDIAN_PERMIT: Final[Check] = (Source.RESIDENCE_PERMIT.value, "guardian")
GUARDIAN_INSURANCE: Final[Check] = (Source.SOCIAL_INSURANCE.value, "guardian")

FACT_NAMES: Final[Mapping[str, frozenset[str]]] = {
    Source.HUKOU.value: frozenset(
        {"address", "township_code", "household", "relationship", "move_in_date"}
    ),
    Source.RESIDENCE_PERMIT.value: frozenset(
        {"address", "township_code", "issue_date", "expiry_date"}
    ),
    Source.PROPERTY.value: frozenset(
        {
            "address",
            "township_code",
            "use",
            "share",
            "registration_date",
            "certificate",
            "unit",
        }
    ),
    Source.SOCIAL_INSURANCE.value: frozenset({"scheme", "months"}),
}
"""The facts each standard source may return (a verifier returns no others)."""

PREDICATES: Final[Mapping[str, tuple[Check, ...]]] = {
    "child_hukou_local": (CHILD_HUKOU,),
    "guardian_hukou_local": (GUARDIAN_HUKOU,),
    "same_household": (CHILD_HUKOU, GUARDIAN_HUKOU),
    "owns_home": (GUARDIAN_PROPERTY,),
    "owns_home_fully": (GUARDIAN_PROPERTY,),
    "hukou_at_home": (CHILD_HUKOU, GUARDIAN_PROPERTY),
    "permit_valid": (GUARDIAN_PERMIT,),
    "insured": (GUARDIAN_INSURANCE,),
}
"""Predicate names a season's categories may use, and the checks each one needs."""

ADDRESS_SOURCES: Final[Mapping[str, Check]] = {
    Source.HUKOU.value: CHILD_HUKOU,
    Source.PROPERTY.value: GUARDIAN_PROPERTY,
    Source.RESIDENCE_PERMIT.value: GUARDIAN_PERMIT,
}
"""Facts whose address may prove a declared address, and the check that returns it."""


def predicate_checks(name: str) -> tuple[Check, ...]:
    """The checks a (possibly negated, ``not_…``) predicate needs."""
    return PREDICATES[name.removeprefix("not_")]
