"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs for the tamper-evident audit log.

A Merkle tree over the log's entries lets anyone holding a signed head (tree size and root
hash) check an inclusion proof that one entry is in the log, and a consistency proof that a
later head extends an earlier one without rewriting it. Deleting or editing any entry,
including the newest, changes the root of every later head, so the log can no longer show a
head that agrees with the ones it has already published.

Every function here works on 32-byte hashes: callers hash an entry with :func:`leaf_hash`
first. Everything is iterative, so trees of millions of leaves need no deep recursion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "append",
    "consistency_proof",
    "frontier_of",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_frontier",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of one entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n`` >= 2): RFC 6962's split."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(leaves[lo:hi]) for ``lo < hi``, bottom-up and without copying ``leaves``.

    Adjacent nodes are paired level by level and a lone rightmost node is carried up
    unchanged; this is the same tree as RFC 6962's recursive split at the largest power of
    two, because every left-hand subtree of that split is perfect.
    """
    sha256 = hashlib.sha256
    prefix = _NODE_PREFIX
    if hi - lo == 1:
        return leaves[lo]
    level = [sha256(prefix + leaves[i] + leaves[i + 1]).digest() for i in range(lo, hi - 1, 2)]
    if (hi - lo) & 1:
        level.append(leaves[hi - 1])
    while len(level) > 1:
        count = len(level)
        paired = [sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, count - 1, 2)]
        if count & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash MTH(D[n]) over ``leaves`` (leaf hashes); EMPTY_ROOT if none."""
    if not leaves:
        return EMPTY_ROOT
    return _range_root(leaves, 0, len(leaves))


def _check_frontier(frontier: Sequence[bytes], size: int) -> None:
    """Raise ValueError unless ``frontier`` can be the frontier of a tree of ``size`` leaves."""
    if size < 0:
        raise ValueError(f"tree size must not be negative, got {size}")
    if len(frontier) != size.bit_count():
        raise ValueError(
            f"a tree of {size} leaves has {size.bit_count()} frontier hashes, got {len(frontier)}"
        )


def append(frontier: Sequence[bytes], size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The frontier after appending ``leaves`` to a tree of ``size`` leaves.

    The frontier (compact range) of a tree lists the roots of the perfect subtrees of the
    binary decomposition of its size, largest (leftmost) first: 4 + 2 + 1 for 7 leaves.
    Appending a leaf merges it with one frontier hash per trailing one-bit of the old size.
    Raises ValueError if ``frontier`` does not have one hash per one-bit of ``size``.
    """
    _check_frontier(frontier, size)
    stack = list(frontier)
    sha256 = hashlib.sha256
    prefix = _NODE_PREFIX
    for leaf in leaves:
        node = leaf
        carry = size
        while carry & 1:
            node = sha256(prefix + stack.pop() + node).digest()
            carry >>= 1
        stack.append(node)
        size += 1
    return stack


def frontier_of(leaves: Sequence[bytes]) -> list[bytes]:
    """The frontier of the tree over ``leaves``: its perfect subtrees' roots, largest first."""
    frontier: list[bytes] = []
    lo = 0
    remaining = len(leaves)
    for bit in range(remaining.bit_length() - 1, -1, -1):
        width = 1 << bit
        if remaining & width:
            frontier.append(_range_root(leaves, lo, lo + width))
            lo += width
    return frontier


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """The root of a tree from its frontier, folding right to left; EMPTY_ROOT if empty."""
    if not frontier:
        return EMPTY_ROOT
    result = frontier[-1]
    for left in reversed(frontier[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path PATH(index, D[n]) of RFC 6962 section 2.1.1, leaf level first.

    Each step down the tree records the root of the half not containing ``index``; all those
    halves are disjoint, so building a proof hashes fewer than ``n`` nodes in total.
    Raises ValueError unless ``0 <= index < len(leaves)``.
    """
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of {n} leaves")
    siblings: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        split = lo + _largest_power_of_two_below(hi - lo)
        if index < split:
            siblings.append(_range_root(leaves, split, hi))
            hi = split
        else:
            siblings.append(_range_root(leaves, lo, split))
            lo = split
    siblings.reverse()
    return siblings


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``root_hash``.

    The algorithm of RFC 9162 section 2.1.3.2, after checking that every hash is 32 bytes.
    """
    if index < 0 or index >= size:
        return False
    if len(leaf) != HASH_SIZE or len(root_hash) != HASH_SIZE:
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
    return sn == 0 and r == root_hash


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The consistency proof PROOF(old_size, D[n]) of RFC 6962 section 2.1.2.

    Empty when ``old_size`` is 0 or ``n``; raises ValueError unless
    ``0 <= old_size <= len(leaves)``.
    """
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} is outside 0..{n}")
    if old_size in (0, n):
        return []
    # SUBPROOF(m, D[lo:hi], b), unrolled: each step appends one subtree root *after* the
    # deeper part of the proof, so collect those roots and emit them in reverse.
    outer: list[bytes] = []
    lo, hi, m, whole = 0, n, old_size, True
    while m != hi - lo:
        split = lo + _largest_power_of_two_below(hi - lo)
        if lo + m <= split:
            outer.append(_range_root(leaves, split, hi))
            hi = split
        else:
            outer.append(_range_root(leaves, lo, split))
            m -= split - lo
            lo = split
            whole = False
    proof = [] if whole else [_range_root(leaves, lo, hi)]
    proof.extend(reversed(outer))
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``new_root`` of ``new_size`` extends ``old_root``.

    Trivial cases first: a shrinking tree never verifies; equal sizes need an empty proof and
    equal roots; an empty old tree needs an empty proof. Otherwise the algorithm of RFC 9162
    section 2.1.4.2, after checking that every hash is 32 bytes.
    """
    if old_size < 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
