"""The hook: register the verifier (no I/O here; the core builds it when selected)."""

from __future__ import annotations

from collections.abc import Iterable

from ruxue_core import Settings, VerifierRegistration, hookimpl
from ruxue_verifier_template.verifier import PLUGIN_NAME, SOURCE, TemplateVerifier


@hookimpl
def ruxue_verifiers(config: Settings) -> Iterable[VerifierRegistration]:
    """Register ``template-hukou`` for the hukou source."""
    return [
        VerifierRegistration(
            name=PLUGIN_NAME,
            sources=(SOURCE,),
            factory=TemplateVerifier.from_settings,
            description="模板：某市户籍核验",
        )
    ]
