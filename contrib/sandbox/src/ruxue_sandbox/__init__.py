"""Ruxue sandbox: fake department services, a fake provincial platform, a fake unified
identity provider and fake SMS vendors (Alibaba Cloud, Tencent Cloud), for development,
demos and plugin tests.

Nothing here is used in production. The services speak plausible HTTP APIs so that the real
plugin code runs against them; faults (outages, latency, random failures) can be injected.
"""

from ruxue_sandbox.departments import (
    DEPARTMENTS,
    PATHS,
    SANDBOX_APP_KEY,
    SANDBOX_SECRET,
    DepartmentRecord,
    DepartmentService,
    Faults,
    QueryLogEntry,
    create_department_app,
)
from ruxue_sandbox.identity import FakeIdentityProvider, IdpUser, create_identity_app
from ruxue_sandbox.platform import (
    FakePlatform,
    InterfaceSpec,
    PlatformSpec,
    create_platform_app,
)
from ruxue_sandbox.population import (
    KINDS,
    Family,
    MaterialSpec,
    Place,
    Population,
    Truth,
    department_services,
    make_population,
    national_id,
    season_places,
)
from ruxue_sandbox.server import serve_in_thread
from ruxue_sandbox.sms import SmsVendorFake, create_aliyun_sms_app, create_tencent_sms_app

__all__ = [
    "DEPARTMENTS",
    "KINDS",
    "PATHS",
    "SANDBOX_APP_KEY",
    "SANDBOX_SECRET",
    "DepartmentRecord",
    "DepartmentService",
    "FakeIdentityProvider",
    "FakePlatform",
    "Family",
    "Faults",
    "IdpUser",
    "InterfaceSpec",
    "MaterialSpec",
    "Place",
    "PlatformSpec",
    "Population",
    "QueryLogEntry",
    "SmsVendorFake",
    "Truth",
    "create_aliyun_sms_app",
    "create_department_app",
    "create_identity_app",
    "create_platform_app",
    "create_tencent_sms_app",
    "department_services",
    "make_population",
    "national_id",
    "season_places",
    "serve_in_thread",
]
