"""Personal data protection: AES-GCM encryption at rest, keyed blind indexes, masking.

One 32-byte master key (``RUXUE_PII_KEY``, see :mod:`ruxue_core.keys`) is stretched with HKDF
into an encryption key and an index key, so that a leaked index reveals nothing about the
ciphertexts and vice versa.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ruxue_core.errors import ConfigurationError

_NONCE_BYTES: Final = 12


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

    def encrypt_bytes(self, plaintext: bytes, *, purpose: str) -> bytes:
        """:meth:`encrypt` for binary content (an uploaded file)."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def decrypt_bytes(self, blob: bytes, *, purpose: str) -> bytes:
        """Inverse of :meth:`encrypt_bytes`."""
        nonce, body = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, purpose.encode())

    def encrypt_json(self, value: Mapping[str, Any], *, purpose: str) -> bytes:
        """Encrypt a JSON-ready mapping (evidence facts) as one ciphertext."""
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return self.encrypt(text, purpose=purpose)

    def decrypt_json(self, blob: bytes, *, purpose: str) -> dict[str, Any]:
        """Inverse of :meth:`encrypt_json`."""
        value: dict[str, Any] = json.loads(self.decrypt(blob, purpose=purpose))
        return value

    def blind_index(self, value: str, *, purpose: str) -> str:
        """A keyed HMAC-SHA256 of the value: equal values give equal indexes, nothing more."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def matches(self, value: str, index: str, *, purpose: str) -> bool:
        """Constant-time comparison of a value against a stored blind index."""
        return hmac.compare_digest(self.blind_index(value, purpose=purpose), index)


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


def mask_address(value: str) -> str:
    """``燕矶镇新街****``: the first six characters (the township, usually) stay visible."""
    return value[:6] + "****" if len(value) > 6 else "****"
