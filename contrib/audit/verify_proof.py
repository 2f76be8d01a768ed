#!/usr/bin/env python3
"""Check the output of ``ruxue audit prove RECEIPT_NO`` without trusting the school's servers.

Usage::

    python verify_proof.py proof.json        # or: ruxue audit prove R123 | python verify_proof.py

The input is JSON of this shape::

    {"head": {"tree_size": 12, "root_hash": "<hex>", "signed_at": "2026-...Z",
              "key_id": "<hex SHA-256 of the raw public key>", "signature": "<hex>",
              "public_key": "<hex raw 32-byte Ed25519 public key>"},
     "entries": [{"index": 3, "leaf": "<the entry's canonical JSON text>",
                  "proof": ["<hex>", ...]}]}

For each entry the script hashes the leaf text as RFC 6962 does, checks its inclusion proof
against the head's root hash (RFC 9162 section 2.1.3.2), checks that ``key_id`` is the
SHA-256 of the public key, and checks the head's Ed25519 signature (this needs the
``cryptography`` package; ``--no-signature`` skips it). It exits 0 only if everything
verified. Compare the printed key id with the one the school publishes, or pass it with
``--key-id``: the signature only means something if the key is the school's.

Standard library only apart from ``cryptography``, so it can be read and run on its own.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

HEAD_CONTEXT = "ruxue-audit-head/v1"
HASH_SIZE = 32


class BadInput(Exception):
    """The JSON is not of the documented shape."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` put leaf hash ``leaf`` at ``index``?"""
    if not 0 <= index < size:
        return False
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def head_message(tree_size: int, root_hash: str, signed_at: str) -> bytes:
    """The bytes the log signs for a head."""
    return f"{HEAD_CONTEXT}\n{tree_size}\n{root_hash}\n{signed_at}".encode()


def _field(obj: Any, name: str, kind: type) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise BadInput(f"missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadInput(f"field {name!r} must be {kind.__name__}")
    return value


def _hex(obj: Any, name: str) -> bytes:
    text = _field(obj, name, str)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise BadInput(f"field {name!r} is not hex") from None


def check_signature(
    public_key: bytes, signature: bytes, message: bytes, *, skip: bool
) -> bool | None:
    """True or False for the Ed25519 signature; None if skipped or ``cryptography`` is missing."""
    if skip:
        return None
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(document: Any, *, expected_key_id: str | None, skip_signature: bool) -> bool:
    """Check every entry and the head; print one line per check. True if all verified."""
    head = _field(document, "head", dict)
    entries = _field(document, "entries", list)
    tree_size = _field(head, "tree_size", int)
    root_hex = _field(head, "root_hash", str)
    root = _hex(head, "root_hash")
    signed_at = _field(head, "signed_at", str)
    key_id = _field(head, "key_id", str).lower()
    signature = _hex(head, "signature")
    public_key = _hex(head, "public_key")

    print(f"head: tree size {tree_size}, root {root_hex}, signed at {signed_at}")
    ok = True

    if not entries:
        print("FAILED no entries to check / 没有可核验的记录")
        ok = False
    for position, entry in enumerate(entries):
        try:
            index = _field(entry, "index", int)
            leaf = _field(entry, "leaf", str)
            proof_hex = _field(entry, "proof", list)
            proof = [bytes.fromhex(p) if isinstance(p, str) else b"" for p in proof_hex]
        except (BadInput, ValueError) as error:
            print(f"FAILED entry #{position}: malformed ({error}) / 格式错误")
            ok = False
            continue
        if verify_inclusion(leaf_hash(leaf.encode("utf-8")), index, tree_size, proof, root):
            print(f"OK     entry {index}: 通过 (verified)")
        else:
            print(f"FAILED entry {index}: 未通过，证明与签名头不符 (proof does not match the head)")
            ok = False

    actual_key_id = hashlib.sha256(public_key).hexdigest()
    if key_id != actual_key_id:
        print(f"FAILED key id: {key_id} is not the SHA-256 of the public key / 公钥指纹不符")
        ok = False
    elif expected_key_id is not None and key_id != expected_key_id.lower():
        print(f"FAILED key id: {key_id} is not the expected {expected_key_id} / 不是预期的公钥")
        ok = False
    else:
        print(f"OK     key id {key_id}: 通过 (verified); compare it with the published key id")

    message = head_message(tree_size, root_hex, signed_at)
    signed = check_signature(public_key, signature, message, skip=skip_signature)
    if signed is None:
        reason = "--no-signature given" if skip_signature else "'cryptography' is not installed"
        print(f"NOTE   signature NOT checked ({reason}) / 签名未核验")
        if not skip_signature:
            print("       pip install cryptography, or pass --no-signature to accept that")
            ok = False
    elif signed:
        print("OK     signature: 通过 (verified)")
    else:
        print("FAILED signature: 签名无效 (invalid signature)")
        ok = False

    print("全部通过 (all verified)" if ok else "未通过 (NOT verified)")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", default="-", help="proof JSON file ('-': stdin)")
    parser.add_argument("--key-id", help="the key id the school publishes; must match")
    parser.add_argument(
        "--no-signature", action="store_true", help="do not check the head's signature"
    )
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):  # a console that cannot show Chinese
        sys.stdout.reconfigure(errors="replace")
    try:
        text = sys.stdin.read() if args.path == "-" else Path(args.path).read_text("utf-8")
        document = json.loads(text)
        ok = verify(document, expected_key_id=args.key_id, skip_signature=args.no_signature)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, BadInput) as error:
        print(f"FAILED cannot read the proof: {error} / 无法读取证明")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
