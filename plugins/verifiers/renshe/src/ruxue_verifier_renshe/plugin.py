"""Hook implementations: registers the 人社 verifier under the name ``renshe``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import Settings, Source, VerifierRegistration, hookimpl
from ruxue_verifier_renshe.verifier import PLUGIN_NAME, SocialInsuranceVerifier


@hookimpl
def ruxue_verifiers(config: Settings) -> Iterable[VerifierRegistration]:
    """Register ``renshe`` for the social-insurance source (no I/O here)."""
    return [
        VerifierRegistration(
            name=PLUGIN_NAME,
            sources=(Source.SOCIAL_INSURANCE.value,),
            factory=SocialInsuranceVerifier.from_settings,
            description="人社数据共享：社保缴费核验",
        )
    ]
