"""The deployment's secret keys: from the environment, or made once beside the SQLite file.

Production takes every key from a ``RUXUE_*`` variable and refuses to start without it. In
embedded mode a missing key is generated on first use into ``data_dir`` (mode 0600), so a
development server never runs on a key anybody could know.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from ruxue_core.errors import ConfigurationError
from ruxue_core.settings import Settings

KEY_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One secret: its setting (and environment variable) and its embedded-mode file name."""

    setting: str
    file_name: str

    @property
    def variable(self) -> str:
        """The environment variable that supplies the key."""
        return f"RUXUE_{self.setting.upper()}"


PII_KEY: Final = KeySpec("pii_key", "pii.key")
SESSION_SECRET: Final = KeySpec("session_secret", "session.key")
AUDIT_SIGNING_KEY: Final = KeySpec("audit_signing_key", "audit-signing.key")
DEV_TOKEN_SECRET: Final = KeySpec("dev_token_secret", "dev-token.key")  # embedded mode only
PRODUCTION_KEYS: Final = (PII_KEY, SESSION_SECRET, AUDIT_SIGNING_KEY)


def load_key(settings: Settings, spec: KeySpec) -> bytes:
    """The 32 bytes of ``spec``: from settings, or (embedded mode only) a file made on first use.

    :raises ConfigurationError: production without the variable, or a malformed value.
    """
    configured: SecretStr | None = getattr(settings, spec.setting, None)
    if configured is not None:
        return _decode(configured.get_secret_value(), spec)
    if not settings.embedded:
        raise ConfigurationError(f"生产模式必须通过环境变量 {spec.variable} 提供密钥")
    path = settings.data_dir / spec.file_name
    if not path.exists():
        _write_new_key(path)
    return _decode(path.read_text().strip(), spec)


def audit_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 key that signs audit tree heads (its 32-byte seed is the stored secret)."""
    return Ed25519PrivateKey.from_private_bytes(load_key(settings, AUDIT_SIGNING_KEY))


def new_key() -> str:
    """A fresh key, base64-encoded, as ``RUXUE_*`` variables take it."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _decode(value: str, spec: KeySpec) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{spec.variable} 须为32字节随机数的 base64 编码")
    return key


def _write_new_key(path: Path) -> None:
    """Write a new key atomically: a concurrent reader sees no file or the whole key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_key())
    try:
        os.link(temporary, path)  # fails if another process made the key first: keep theirs
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
