"""Ruxue sandbox: fake department services, a fake provincial platform, a fake unified
identity provider and fake SMS vendors (Alibaba Cloud, Tencent Cloud), for development,
demos and plugin tests.

Nothing here is used in production. The services speak plausible HTTP APIs so that the real
plugin code runs against them; faults (outages, latency, random failures) can be injected.
"""

from ruxue_sandbox.gongan import (
    DEFAULT_API_KEY,
    GonganDataset,
    HukouRecord,
    QueryLogEntry,
    Record,
    RecordError,
    ResidencePermitRecord,
    create_gongan_app,
    normalise_address,
    record_from_json,
)
from ruxue_sandbox.identity import FakeIdentityProvider, IdpUser, create_identity_app
from ruxue_sandbox.platform import (
    FakePlatform,
    InterfaceSpec,
    PlatformSpec,
    create_platform_app,
)
from ruxue_sandbox.server import serve_in_thread
from ruxue_sandbox.sms import SmsVendorFake, create_aliyun_sms_app, create_tencent_sms_app

__all__ = [
    "DEFAULT_API_KEY",
    "FakeIdentityProvider",
    "FakePlatform",
    "GonganDataset",
    "HukouRecord",
    "IdpUser",
    "InterfaceSpec",
    "PlatformSpec",
    "QueryLogEntry",
    "Record",
    "RecordError",
    "ResidencePermitRecord",
    "SmsVendorFake",
    "create_aliyun_sms_app",
    "create_gongan_app",
    "create_identity_app",
    "create_platform_app",
    "create_tencent_sms_app",
    "normalise_address",
    "record_from_json",
    "serve_in_thread",
]
