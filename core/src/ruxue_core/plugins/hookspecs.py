"""Every Ruxue hook. Hooks are synchronous and registration-only: they return typed records
whose factories build objects that do the (async) work. Plugins import ``hookimpl`` from
``ruxue_core``; they never import pluggy.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from ruxue_core.plugins.contracts import (
    CaseReporterRegistration,
    IdentityProviderRegistration,
    NotifierRegistration,
    VerifierRegistration,
)
from ruxue_core.settings import Settings

PROJECT = "ruxue"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ruxue_verifiers(config: Settings) -> Iterable[VerifierRegistration]:
    """Register department verifiers (公安 hukou, 自然资源 property, 人社 social insurance, …).

    :param config: the deployment's settings; read your options with ``config.options_for``.
    :return: zero or more registrations, each naming the sources its verifier answers.

    Called once when the plugin host starts. No I/O: build clients in the factory, lazily.

    Example::

        @hookimpl
        def ruxue_verifiers(config):
            return [VerifierRegistration("gongan", ("hukou",), GonganVerifier.from_settings)]
    """
    return ()


@hookspec
def ruxue_notifiers(config: Settings) -> Iterable[NotifierRegistration]:
    """Register SMS notifiers (one per vendor). The core adds retries and failover.

    :param config: the deployment's settings; read your options with ``config.options_for``.
    :return: zero or more registrations.

    Called once when the plugin host starts. No I/O.

    Example::

        @hookimpl
        def ruxue_notifiers(config):
            return [NotifierRegistration("aliyun", AliyunNotifier.from_settings)]
    """
    return ()


@hookspec
def ruxue_case_reporters(config: Settings) -> Iterable[CaseReporterRegistration]:
    """Register provincial case reporters (办件数据回传, interfaces 4.2.1 and 4.2.2).

    :param config: the deployment's settings.
    :return: zero or more registrations.

    Called once when the plugin host starts. No I/O. A reporter maps, signs and sends one
    canonical record at a time and answers ``received``, ``acknowledged`` or ``rejected``;
    the core pushes each case's records in order, tracks acknowledgements and pushes again.

    Example::

        @hookimpl
        def ruxue_case_reporters(config):
            return [CaseReporterRegistration("hubei", HubeiReporter.from_settings)]
    """
    return ()


@hookspec
def ruxue_identity_providers(config: Settings) -> Iterable[IdentityProviderRegistration]:
    """Register identity providers (provincial unified login, app tokens, staff accounts).

    :param config: the deployment's settings; read your options with ``config.options_for``.
    :return: zero or more registrations, each naming the roles its provider may vouch for
        (``roles``; a principal with another role is refused by the core).

    Called once when the plugin host starts. No I/O here; the provider's async
    ``authenticate`` may call its remote service. A guardian's principal must carry the
    real-name ID number the provider verified (``Principal.verified_id_number``): it is what
    binds a login to a guardian record. A provider guardians sign in through in the browser
    (a portal ticket, an OpenID Connect code) also implements ``RedirectLogin``; select it
    with ``guardian_auth.login_providers`` and the core opens a guardian session for it.

    Example::

        @hookimpl
        def ruxue_identity_providers(config):
            return [IdentityProviderRegistration("hubei-sso", HubeiSso.from_settings)]
    """
    return ()
