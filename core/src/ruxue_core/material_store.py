"""Where uploaded materials live: one small interface, and a filesystem implementation.

The store only ever sees ciphertext: :mod:`ruxue_core.services.uploads` encrypts each file
(AES-GCM, bound to its storage key) before it hands it over. Keys are made by the core
(``<application id>/<random hex>``), never from a file name a client sent. An object store
(S3, OSS) fits behind the same :class:`MaterialStore` protocol.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Final, Protocol

from ruxue_core.errors import ConfigurationError
from ruxue_core.settings import Settings

_KEY: Final = re.compile(r"^[0-9]{1,19}/[0-9a-f]{32}$")


class MaterialStore(Protocol):
    """Stores opaque (already encrypted) blobs under keys the core chose."""

    async def put(self, key: str, blob: bytes) -> None:
        """Store ``blob`` under ``key`` (replacing nothing: keys are new)."""
        ...

    async def get(self, key: str) -> bytes:
        """The blob stored under ``key``; ``FileNotFoundError`` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``'s blob if present (clean-up after a failed write)."""
        ...


def new_key(application_id: int) -> str:
    """A fresh storage key for one of an application's files."""
    return f"{application_id}/{uuid.uuid4().hex}"


class FileMaterialStore:
    """A :class:`MaterialStore` on a local directory (mode 0700), one file per key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("malformed material storage key")
        return self.root / key

    async def put(self, key: str, blob: bytes) -> None:
        """Write atomically: a temporary file renamed into place."""
        await asyncio.to_thread(self._write, self._path(key), blob)

    async def get(self, key: str) -> bytes:
        """Read the blob."""
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        """Unlink the blob, if present."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    @staticmethod
    def _write(path: Path, blob: bytes) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(blob)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)


def storage_root(settings: Settings) -> Path:
    """The configured directory; in embedded mode ``<data_dir>/materials`` by default.

    :raises ConfigurationError: production without ``uploads.storage_dir`` (fail closed).
    """
    configured = settings.uploads.storage_dir
    if configured is not None:
        return configured
    if not settings.embedded:
        raise ConfigurationError(
            "生产模式必须通过环境变量 RUXUE_UPLOADS__STORAGE_DIR 指定材料文件的存放目录"
        )
    return settings.data_dir / "materials"


def open_material_store(settings: Settings) -> MaterialStore:
    """The store the settings describe (today: the filesystem one).

    :raises ConfigurationError: see :func:`storage_root`.
    """
    return FileMaterialStore(storage_root(settings))
