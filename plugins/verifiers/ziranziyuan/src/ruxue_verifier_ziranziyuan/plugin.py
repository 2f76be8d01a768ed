"""Hook implementations: registers the 自然资源 verifier under the name ``ziranziyuan``."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import Settings, Source, VerifierRegistration, hookimpl
from ruxue_verifier_ziranziyuan.verifier import PLUGIN_NAME, PropertyVerifier


@hookimpl
def ruxue_verifiers(config: Settings) -> Iterable[VerifierRegistration]:
    """Register ``ziranziyuan`` for the property source (no I/O here)."""
    return [
        VerifierRegistration(
            name=PLUGIN_NAME,
            sources=(Source.PROPERTY.value,),
            factory=PropertyVerifier.from_settings,
            description="自然资源数据共享：不动产登记核验",
        )
    ]
