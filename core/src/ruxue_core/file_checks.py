"""Checks on an uploaded file that trust nothing the client said about it.

The type is recognised from the file's leading bytes (its "magic"), never from the declared
content type or the file name; a declared type, when given, must agree. File names are reduced
to a harmless display name: no directories, no control or markup characters, bounded length,
and the extension of the recognised type.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

SIGNATURES: Final[dict[str, tuple[bytes, ...]]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
EXTENSIONS: Final[dict[str, str]] = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}
ALIASES: Final[dict[str, str]] = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
MAX_NAME_CHARS: Final = 80
_UNSAFE: Final = re.compile(r"[^\w\u4e00-\u9fff .()（）#\-]")
_LONG_NUMBER: Final = re.compile(r"\d{6,}[\dXx]?")
"""A run of digits long enough to be an ID, phone or account number: never kept in clear."""


def sniff_content_type(head: bytes) -> str | None:
    """The content type the leading bytes prove, or ``None`` if they prove none we know."""
    for content_type, magics in SIGNATURES.items():
        if any(head.startswith(magic) for magic in magics):
            return content_type
    return None


def normalise_declared(declared: str | None) -> str | None:
    """A declared content type without parameters, lower-cased, aliases resolved."""
    if not declared:
        return None
    bare = declared.split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare) or None


def safe_filename(name: str | None, content_type: str, fallback: str) -> str:
    """A display name made from a client's file name: the last path component, NFKC, long
    digit runs (ID or phone numbers) replaced by ``#``, only letters, digits, CJK and a little
    punctuation, at most ``MAX_NAME_CHARS``, ending in the recognised type's extension.
    ``fallback`` (the material code) when nothing is left."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKC", base)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _LONG_NUMBER.sub("#", stem)
    stem = _UNSAFE.sub("_", stem).strip(" ._")
    stem = re.sub(r"_+", "_", stem)[:MAX_NAME_CHARS].strip(" ._") or fallback
    return stem + EXTENSIONS.get(content_type, "")
