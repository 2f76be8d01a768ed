"""Persisted queries: an allow-list of GraphQL documents, known by their SHA-256.

A front end registers the documents it sends (``ruxue queries register FILE``) into one file,
an Apollo persisted-query manifest (``{"format": "apollo-persisted-query-manifest",
"version": 1, "operations": [{"id": <sha256>, "name", "type", "body"}]}``) named by the
``persisted_queries.file`` setting. Every gateway process reads it (and reads it again when
it changes), so the list is deployed with the configuration, like ``ruxue.toml``.

Requests may name a document by its hash in Apollo's shape,
``"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "…"}}``, with or without the
``query``. With ``persisted_queries.enforce`` on, any document not on the list is refused
(``PERSISTED_QUERY_NOT_ALLOWED``) before it is parsed, validated or costed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from graphql import GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension

from ruxue_core.settings import Settings

MANIFEST_FORMAT: Final = "apollo-persisted-query-manifest"
RELOAD_SECONDS: Final = 5.0
HASH: Final = re.compile(r"[0-9a-f]{64}")
NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED: Final = "PERSISTED_QUERY_NOT_ALLOWED"
HASH_MISMATCH: Final = "PERSISTED_QUERY_HASH_MISMATCH"


def document_hash(document: str) -> str:
    """The SHA-256 (hex) of a document's UTF-8 text, exactly as a client sends it."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def manifest_path(settings: Settings) -> Path:
    """The allow-list file: the setting, or ``<data_dir>/persisted-queries.json``."""
    return settings.persisted_queries.file or settings.data_dir / "persisted-queries.json"


def read_manifest(path: Path) -> dict[str, str]:
    """The documents of a manifest by hash (empty when the file does not exist).

    :raises ValueError: not a manifest, or an entry whose id is not its body's hash.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not an {MANIFEST_FORMAT}")
    documents: dict[str, str] = {}
    for entry in data.get("operations", []):
        body = entry.get("body") if isinstance(entry, dict) else None
        if not isinstance(body, str) or entry.get("id") != document_hash(body):
            raise ValueError(f"{path}: an operation whose id is not the SHA-256 of its body")
        documents[entry["id"]] = body
    return documents


def documents_in(path: Path) -> list[str]:
    """The documents a file holds: a manifest's bodies, a JSON list of documents, or else
    the whole file as one document (a ``.graphql`` file, sent exactly as written)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if isinstance(data, list) and all(isinstance(d, str) for d in data):
            return list(data)
        return list(read_manifest(path).values())
    return [text]


def _describe(document: str) -> dict[str, str]:
    """The name and type of a document's first operation (for people reading the file)."""
    try:
        ast = parse(document)
    except GraphQLError as exc:
        raise ValueError(f"not a GraphQL document: {exc.message}") from None
    operation = next((d for d in ast.definitions if isinstance(d, OperationDefinitionNode)), None)
    if operation is None:
        raise ValueError("a document without an operation")
    name = operation.name.value if operation.name else ""
    return {"name": name, "type": operation.operation.value}


def register(path: Path, documents: Iterable[str]) -> list[str]:
    """Add documents to the manifest at ``path`` (atomically; existing ones are kept).

    :return: the hashes of ``documents``, in order.
    :raises ValueError: a document that does not parse or has no operation.
    """
    known = read_manifest(path)
    hashes = []
    for document in documents:
        _describe(document)
        digest = document_hash(document)
        known[digest] = document
        hashes.append(digest)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "operations": [
            {"id": digest, **_describe(body), "body": body} for digest, body in known.items()
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=2)
    Path(handle.name).replace(path)
    return hashes


class PersistedQueries:
    """The allow-list one gateway process serves, read again when its file changes."""

    def __init__(self, path: Path, *, enforce: bool) -> None:
        self.path = path
        self.enforce = enforce
        self._documents: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._refresh(force=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedQueries:
        """The allow-list the settings name."""
        return cls(manifest_path(settings), enforce=settings.persisted_queries.enforce)

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_SECONDS:
            return
        with self._lock:
            self._checked = now
            try:
                info = self.path.stat()
                stamp = (info.st_mtime_ns, info.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                self._documents = read_manifest(self.path) if stamp else {}
                self._stamp = stamp

    def document(self, digest: str) -> str | None:
        """The registered document with this hash."""
        self._refresh()
        return self._documents.get(digest)

    def allowed(self, document: str) -> bool:
        """Whether ``document`` is on the list (always, when the list is not enforced)."""
        return not self.enforce or self.document(document_hash(document)) is not None

    def extension(self) -> Callable[[], SchemaExtension]:
        """A factory of the schema extension that applies this list to each operation."""
        queries = self
        return lambda: PersistedQueryExtension(queries)


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedQueryExtension(SchemaExtension):
    """Resolves ``extensions.persistedQuery`` and applies the allow-list, before parsing."""

    def __init__(self, queries: PersistedQueries) -> None:
        super().__init__()
        self.queries = queries

    def on_operation(self) -> Iterator[None]:
        """Fill in the document a hash names; refuse what the list does not allow."""
        context = self.execution_context
        persisted = _persisted(context.operation_extensions)
        if persisted is not None:
            digest = persisted.get("sha256Hash")
            if not isinstance(digest, str) or not HASH.fullmatch(digest):
                raise _refusal("persistedQuery.sha256Hash 须为 64 位十六进制", HASH_MISMATCH)
            if context.query is None:
                document = self.queries.document(digest)
                if document is None:
                    raise _refusal("PersistedQueryNotFound", NOT_FOUND)
                context.query = document
            elif document_hash(context.query) != digest:
                raise _refusal("provided sha does not match query", HASH_MISMATCH)
        if context.query is not None and not self.queries.allowed(context.query):
            raise _refusal(
                "此查询未登记，生产环境只接受已登记的查询 (persisted queries only)", NOT_ALLOWED
            )
        yield


def _persisted(extensions: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    value = (extensions or {}).get("persistedQuery")
    return value if isinstance(value, Mapping) else None
