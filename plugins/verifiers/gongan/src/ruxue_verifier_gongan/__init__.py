"""Ruxue verifier plugin for the 公安 (public security) data-sharing service.

Answers the ``hukou`` (户籍) and ``residence_permit`` (居住证) sources. Registered through the
entry point ``gongan`` in group ``ruxue``; configure it under ``plugin_options.gongan``.
"""

from ruxue_verifier_gongan.verifier import GonganVerifier

__all__ = ["GonganVerifier"]
