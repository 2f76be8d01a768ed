"""Hook implementations: registers the 公安 verifier under the name ``gongan``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import Settings, Source, VerifierRegistration, hookimpl
from ruxue_verifier_gongan.verifier import GonganVerifier


@hookimpl
def ruxue_verifiers(config: Settings) -> Iterable[VerifierRegistration]:
    """Register ``gongan`` for the hukou and residence-permit sources (no I/O here)."""
    return [
        VerifierRegistration(
            name="gongan",
            sources=(Source.HUKOU.value, Source.RESIDENCE_PERMIT.value),
            factory=GonganVerifier.from_settings,
            description="公安数据共享：户籍、居住证核验",
        )
    ]
