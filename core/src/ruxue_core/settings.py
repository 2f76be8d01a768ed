"""One settings object for the whole system, read from ``ruxue.toml`` and ``RUXUE_*`` variables.

Secrets (the PII key, plugin credentials) come only from the environment; in embedded mode the
PII key is generated once and kept beside the SQLite file.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
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


class WorkerSettings(BaseSettings):
    """Outbox worker tuning."""

    lease_seconds: float = 60.0
    poll_interval: float = 0.2
    batch_size: int = 20
    max_attempts: int = 6
    backoff_base: float = 2.0
    backoff_cap: float = 300.0


class VerificationSettings(BaseSettings):
    """The one timeout/retry policy applied around every verifier call."""

    timeout_seconds: float = 5.0
    attempts: int = 3
    wait_initial: float = 0.2
    wait_max: float = 2.0


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
    district_code: str = Field(default="420704", pattern=r"^\d{6}$")
    verifiers: list[str] = Field(
        default_factory=lambda: ["gongan"], description="verifier plugin names, in order"
    )
    notifiers: list[str] = Field(
        default_factory=lambda: ["devlog"], description="notifier plugin names, in failover order"
    )
    case_reporters: list[str] = Field(default_factory=list)
    identity_providers: list[str] = Field(default_factory=lambda: ["dev"])
    blocked_plugins: list[str] = Field(default_factory=list)
    plugin_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-plugin options, keyed by plugin name"
    )
    dev_token_secret: SecretStr = SecretStr("ruxue-dev-only-not-secret")
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    query_code_max_failures: int = 5

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
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return to_async_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'ruxue.db'}"

    def options_for(self, plugin: str) -> dict[str, Any]:
        """The options configured for one plugin (empty when none are)."""
        return dict(self.plugin_options.get(plugin, {}))


def to_async_url(url: str) -> str:
    """Map a plain database URL onto the async driver Ruxue uses for it."""
    for plain, driver in (
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    return url
