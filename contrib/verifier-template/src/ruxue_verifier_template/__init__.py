"""Template for a city's own Ruxue verifier: one source (here ``hukou``) answered by one
department service over signed JSON. Rename it, then edit ``verifier.py``."""

from ruxue_verifier_template.verifier import PLUGIN_NAME, TemplateVerifier

__all__ = ["PLUGIN_NAME", "TemplateVerifier"]
