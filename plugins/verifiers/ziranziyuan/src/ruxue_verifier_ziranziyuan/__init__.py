"""Ruxue verifier plugin for the 自然资源 (natural resources) data-sharing service.

Answers the ``property`` source (不动产登记: a 不动产权证书 or a 不动产登记证明). Registered
through the entry point ``ziranziyuan`` in group ``ruxue``; configure it under
``plugin_options.ziranziyuan``.
"""

from ruxue_verifier_ziranziyuan.verifier import PropertyVerifier

__all__ = ["PropertyVerifier"]
