"""Personal data protection: AES-GCM encryption at rest, keyed blind indexes, masking.

One 32-byte master key (from ``RUXUE_PII_KEY``, or generated beside the SQLite file in
embedded mode) is stretched with HKDF into an encryption key and an index key, so that a
leaked index reveals nothing about the ciphertexts and vice versa.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ruxue_core.errors import ConfigurationError
from ruxue_core.settings import Mode, Settings

_NONCE_BYTES: Final = 12
_KEY_FILE: Final = "pii.key"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class PiiCipher:
    """Encrypts and indexes personal data. ``purpose`` binds a ciphertext to its column."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ConfigurationError("个人信息加密密钥必须为32字节")
        self._aead = AESGCM(_derive(master_key, b"ruxue/pii/encrypt/v1"))
        self._index_key = _derive(master_key, b"ruxue/pii/index/v1")

    def encrypt(self, plaintext: str, *, purpose: str) -> bytes:
        """Nonce followed by ciphertext and tag; ``purpose`` is authenticated, not stored."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), purpose.encode())

    def decrypt(self, blob: bytes, *, purpose: str) -> str:
        """Inverse of :meth:`encrypt`; fails if the blob was moved to another purpose."""
        nonce, body = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, purpose.encode()).decode()

    def blind_index(self, value: str, *, purpose: str) -> str:
        """A keyed HMAC-SHA256 of the value: equal values give equal indexes, nothing more."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def matches(self, value: str, index: str, *, purpose: str) -> bool:
        """Constant-time comparison of a value against a stored blind index."""
        return hmac.compare_digest(self.blind_index(value, purpose=purpose), index)


def load_master_key(settings: Settings) -> bytes:
    """The PII master key: from settings, or (embedded mode only) a file made on first use."""
    if settings.pii_key is not None:
        try:
            key = base64.b64decode(settings.pii_key.get_secret_value(), validate=True)
        except ValueError:
            raise ConfigurationError("RUXUE_PII_KEY 须为32字节随机数的 base64 编码") from None
        return key
    if settings.mode is not Mode.EMBEDDED:
        raise ConfigurationError("生产模式必须通过环境变量 RUXUE_PII_KEY 提供加密密钥")
    path = settings.data_dir / _KEY_FILE
    if not path.exists():
        _write_new_key(path)
    return base64.b64decode(path.read_text().strip())


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(secrets.token_bytes(32)).decode())


def mask_id_number(value: str) -> str:
    """``4207**********1231``: the first four and last four characters stay visible."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """``138****1234``: the first three and last four digits stay visible."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """``张**``: only the first character stays visible (``欧阳娜娜`` → ``欧***``)."""
    return value[:1] + "*" * (len(value) - 1) if value else value
