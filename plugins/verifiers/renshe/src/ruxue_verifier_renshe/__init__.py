"""Ruxue verifier plugin for the 人社 (human resources and social security) data-sharing
service.

Answers the ``social_insurance`` source (城乡居民 and 城镇职工 schemes: months paid in a
window). Registered through the entry point ``renshe`` in group ``ruxue``; configure it under
``plugin_options.renshe``.
"""

from ruxue_verifier_renshe.verifier import SocialInsuranceVerifier

__all__ = ["SocialInsuranceVerifier"]
