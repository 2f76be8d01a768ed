"""One settings object for the whole system, read from ``ruxue.toml`` and ``RUXUE_*`` variables.

Secrets (the PII key, the session and audit signing keys, plugin credentials) come only from
the environment; in embedded mode each is generated once and kept beside the SQLite file
(see :mod:`ruxue_core.secrets`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Mode(StrEnum):
    """How the system is deployed."""

    EMBEDDED = "embedded"  # SQLite file, in-process worker, sandbox services
    PRODUCTION = "production"  # PostgreSQL, separate workers, real plugins


class WorkerSettings(BaseModel):
    """Outbox worker tuning. Leases are short and renewed by a heartbeat while a job runs."""

    in_process: bool | None = Field(
        default=None,
        description="run a worker inside `ruxue serve`; default: yes in embedded mode only",
    )
    lease_seconds: float = Field(default=15.0, gt=0)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=20, ge=1, le=500)
    max_attempts: int = Field(default=6, ge=1)
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    job_timeout_seconds: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> WorkerSettings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("worker.heartbeat_seconds must be at most half of lease_seconds")
        return self


class VerificationSettings(BaseModel):
    """The one policy applied around every verifier call, per data source: a timeout per
    attempt, bounded retries with jittered backoff on temporary faults, a concurrency limit
    and a circuit breaker."""

    timeout_seconds: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=3, ge=1, le=20)
    wait_initial: float = Field(default=0.2, ge=0)
    wait_max: float = Field(default=2.0, ge=0)
    per_source_limit: int = Field(
        default=8, ge=1, le=1000, description="calls in flight to one source, per process"
    )
    breaker_threshold: int = Field(
        default=5, ge=1, description="checks failing in a row (after retries) that open it"
    )
    breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="how long an open breaker refuses before one probe"
    )


class LimitSettings(BaseModel):
    """Request limits applied before any parsing, and the anonymous lookup's rate limits."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_document_chars: int = Field(default=20_000, ge=100)
    cached_document_chars: int = Field(default=4_000, ge=0)
    lookups_per_minute_per_client: int = Field(default=30, ge=1)
    query_code_max_failures: int = Field(default=5, ge=1)
    query_lock_minutes: int = Field(default=15, ge=1)


class UploadSettings(BaseModel):
    """Materials guardians and counter staff upload: limits and where the encrypted files go."""

    max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024, description="largest file"
    )
    content_types: list[str] = Field(
        default_factory=lambda: ["application/pdf", "image/jpeg", "image/png"],
        description="accepted types (recognised by their leading bytes, not the declared type)",
    )
    storage_dir: Path | None = Field(
        default=None,
        description="directory of the encrypted files; required in production "
        "(embedded default: <data_dir>/materials)",
    )


class StaffAuthSettings(BaseModel):
    """Staff accounts: sessions and lockout."""

    session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)


class CaseSyncSettings(BaseModel):
    """Provincial case push (办件数据回传): acknowledgement tracking and re-pushes."""

    ack_timeout_seconds: float = Field(
        default=600.0, gt=0, description="a record sent but not acknowledged this long is re-pushed"
    )
    ack_poll_seconds: float = Field(
        default=30.0, gt=0, description="how often the platform is asked about sent records"
    )
    retry_after_seconds: float = Field(
        default=300.0, gt=0, description="a record whose push job died is scheduled again after"
    )
    missing_after_seconds: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="the report counts a record still unacknowledged "
        "this long after it was written as missing",
    )
    batch_size: int = Field(default=200, ge=1, le=5000)
    timezone: str = Field(default="Asia/Shanghai", description="days of the report")


class GuardianAuthSettings(BaseModel):
    """Guardians' sign-in through the province's unified identity (统一身份认证)."""

    login_providers: list[str] = Field(
        default_factory=list,
        description="identity providers guardians sign in through at /auth/<name>/…",
    )
    session_minutes: int = Field(default=30, ge=1, le=12 * 60)
    min_assurance_level: int = Field(
        default=2, ge=1, le=4, description="real-name level (1-4) a login needs to count"
    )
    return_urls: list[str] = Field(
        default_factory=list,
        description="front-end URL prefixes a browser sign-in may return to (else JSON)",
    )
    public_url: str | None = Field(
        default=None, description="the gateway's external base URL, for callback URLs"
    )
    logins_per_minute_per_client: int = Field(default=30, ge=1)


class SmsVendorSettings(BaseModel):
    """One SMS vendor's share of the traffic and its rate limit (keyed by notifier name)."""

    weight: float = Field(default=1.0, ge=0, description="relative share when all are healthy")
    rate_per_second: float | None = Field(
        default=None, gt=0, description="sends per second across all workers; none: unlimited"
    )
    burst: int = Field(default=1, ge=1, description="sends allowed at once above the rate")


class SmsSettings(BaseModel):
    """SMS dispatch: retries, vendor weights and rate limits, delivery-receipt callbacks."""

    max_attempts: int = Field(
        default=4, ge=1, le=20, description="vendor calls per message before it is failed"
    )
    vendors: dict[str, SmsVendorSettings] = Field(
        default_factory=dict, description="per-vendor weight and rate limit, by notifier name"
    )
    error_half_life_seconds: float = Field(
        default=60.0, gt=0, description="how fast a vendor's recent error rate is forgotten"
    )
    min_weight_share: float = Field(
        default=0.02, gt=0, le=1, description="the weight left to a vendor that only fails"
    )
    receipt_token: SecretStr | None = Field(
        default=None, description="secret path token of /sms/receipts/<vendor>/<token>"
    )

    def vendor(self, name: str) -> SmsVendorSettings:
        """The settings of one vendor (the defaults when it has none configured)."""
        return self.vendors.get(name) or SmsVendorSettings()


class SubscriptionSettings(BaseModel):
    """Live updates (GraphQL subscriptions): how often each gateway process looks for status
    changes, and how many subscriptions a connection or a caller may hold."""

    poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="interval of the one change poller per process"
    )
    per_connection: int = Field(default=5, ge=1, le=100, description="per WebSocket")
    per_caller: int = Field(
        default=10, ge=1, le=1000, description="per signed-in principal, per gateway process"
    )
    gap_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long an audit id seen missing may still commit (PostgreSQL sequences "
        "hand out ids before commit); longer than any unit of work",
    )


class PersistedQuerySettings(BaseModel):
    """Persisted queries: the allow-list of documents front ends registered (by SHA-256)."""

    file: Path | None = Field(
        default=None,
        description="the allow-list (an Apollo persisted-query manifest, written by `ruxue "
        "queries register`); default <data_dir>/persisted-queries.json",
    )
    enforce: bool = Field(
        default=False, description="refuse every document that is not on the allow-list"
    )


class Settings(BaseSettings):
    """Everything configurable about a Ruxue deployment."""

    model_config = SettingsConfigDict(
        env_prefix="RUXUE_",
        env_nested_delimiter="__",
        toml_file="ruxue.toml",
        extra="ignore",
    )

    mode: Mode = Mode.EMBEDDED
    data_dir: Path = Path("var")
    database_url: str | None = None
    pii_key: SecretStr | None = Field(
        default=None, description="base64 of 32 random bytes; required in production"
    )
    session_secret: SecretStr | None = Field(
        default=None, description="signs staff and guardian sessions; required in production"
    )
    audit_signing_key: SecretStr | None = Field(
        default=None, description="base64 Ed25519 private key for tree heads; production"
    )
    district_code: str = Field(
        default="420704", pattern=r"^\d{6}$", description="first six digits of receipt numbers"
    )
    verifiers: list[str] = Field(
        default_factory=lambda: ["gongan", "ziranziyuan", "renshe"],
        description="verifier plugin names, in order (the first answering a source is used)",
    )
    notifiers: list[str] = Field(
        default_factory=lambda: ["devlog"], description="notifier plugin names, in failover order"
    )
    case_reporters: list[str] = Field(
        default_factory=list, description="the provincial case reporter (at most one)"
    )
    identity_providers: list[str] | None = Field(
        default=None,
        description="identity provider names, tried in order; default: dev, staff and "
        "guardian (sessions) in embedded mode, staff and guardian in production",
    )
    blocked_plugins: list[str] = Field(default_factory=list)
    plugin_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-plugin options, keyed by plugin name"
    )
    plugin_timeout_seconds: float = Field(
        default=10.0, gt=0, description="the core's timeout around any one plugin call"
    )
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    staff_auth: StaffAuthSettings = Field(default_factory=StaffAuthSettings)
    casesync: CaseSyncSettings = Field(default_factory=CaseSyncSettings)
    guardian_auth: GuardianAuthSettings = Field(default_factory=GuardianAuthSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    cors_origins: list[str] = Field(default_factory=list)
    subscriptions: SubscriptionSettings = Field(default_factory=SubscriptionSettings)
    persisted_queries: PersistedQuerySettings = Field(default_factory=PersistedQuerySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order of precedence: explicit arguments, environment, then ``ruxue.toml``."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded (development, single machine) mode."""
        return self.mode is Mode.EMBEDDED

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return to_sync_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'ruxue.db'}"

    @property
    def selected_identity_providers(self) -> list[str]:
        """The identity providers to use: the configured ones, or the mode's default."""
        if self.identity_providers is not None:
            return list(self.identity_providers)
        return ["dev", "staff", "guardian"] if self.embedded else ["staff", "guardian"]

    @property
    def runs_in_process_worker(self) -> bool:
        """Whether ``ruxue serve`` runs an outbox worker in its own process."""
        if self.worker.in_process is not None:
            return self.worker.in_process
        return self.embedded

    def options_for(self, plugin: str) -> dict[str, Any]:
        """The options configured for one plugin (empty when none are)."""
        return dict(self.plugin_options.get(plugin, {}))


def to_sync_url(url: str) -> str:
    """Map a plain database URL onto the driver Ruxue uses for it (psycopg 3 or sqlite3)."""
    for prefix in (
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql://",
        "postgres://",
    ):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    for prefix in ("sqlite+aiosqlite://", "sqlite+pysqlite://"):
        if url.startswith(prefix):
            return "sqlite://" + url.removeprefix(prefix)
    return url
