"""The bundled verifier plugins wired to in-process sandbox department services (for the
acceptance tests and the bench): the real plugin classes and their signed HTTP code, over an
``httpx.ASGITransport`` instead of sockets, registered under ``sandbox-…`` names."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from ruxue_core import DepartmentOptions, Settings, VerifierRegistration, hookimpl
from ruxue_sandbox import SANDBOX_APP_KEY, SANDBOX_SECRET, DepartmentService, create_department_app
from ruxue_verifier_gongan import GonganVerifier
from ruxue_verifier_renshe import SocialInsuranceVerifier
from ruxue_verifier_ziranziyuan import PropertyVerifier

NAMES = ["sandbox-gongan", "sandbox-ziranziyuan", "sandbox-renshe"]


class SandboxVerifiers:
    """The bundled verifier classes, wired to in-process sandbox services."""

    def __init__(self, services: dict[str, DepartmentService], timeout: float) -> None:
        self.services = services
        self.options = DepartmentOptions("http://sandbox", SANDBOX_APP_KEY, SANDBOX_SECRET, timeout)

    def _transport(self, name: str) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=create_department_app(self.services[name]))

    @hookimpl
    def ruxue_verifiers(self, config: Settings) -> Iterable[VerifierRegistration]:
        """The three departments under ``sandbox-…`` names."""
        options = self.options
        return [
            VerifierRegistration(
                "sandbox-gongan",
                ("hukou", "residence_permit"),
                lambda _: GonganVerifier(options, transport=self._transport("gongan")),
            ),
            VerifierRegistration(
                "sandbox-ziranziyuan",
                ("property",),
                lambda _: PropertyVerifier(options, transport=self._transport("ziranziyuan")),
            ),
            VerifierRegistration(
                "sandbox-renshe",
                ("social_insurance",),
                lambda _: SocialInsuranceVerifier(options, transport=self._transport("renshe")),
            ),
        ]
