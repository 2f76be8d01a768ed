"""RFC 6962 / RFC 9162 Merkle trees: known answers, properties, and the public proof checker."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ruxue_core.merkle import (
    EMPTY_ROOT,
    append,
    consistency_proof,
    frontier_of,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_frontier,
    verify_consistency,
    verify_inclusion,
)

VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "contrib" / "audit" / "verify_proof.py"


def h(text: str) -> bytes:
    """Decode a hex test vector."""
    return bytes.fromhex(text)


# --- Known answers -------------------------------------------------------------------------
#
# Test data (hex strings only) copied from github.com/transparency-dev/merkle:
#   testonly/constants.go   LeafInputs, NodeHashes, RootHashes, CompactTrees
#   proof/verify_test.go    inclusionProofs, consistencyProofs, sha256SomeHash
#   rfc6962/rfc6962_test.go TestRFC6962Hasher
#   proof/proof_test.go     TestInclusion / TestConsistency node ids (trees of up to 8 leaves)
# The same vectors appear in google/certificate-transparency-go and google/trillian.

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

# NODE_HASHES[level][i]: the root of the perfect subtree over leaves [i * 2**level, ...).
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# ROOTS[size]: the tree hash over the first `size` leaves.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# COMPACT[size]: the frontier of the tree over the first `size` leaves, as (level, i).
COMPACT: list[list[tuple[int, int]]] = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# (leaf index, tree size, proof); verify_test.go numbers leaves from 1, these from 0.
INCLUSION_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# Proofs as node ids (level, i) into NODE_HASHES; a pair of ids stands for the node_hash of
# the two (the root of an imperfect subtree, which NODE_HASHES does not list).
NodeId = tuple[int, int]
ProofItem = NodeId | tuple[NodeId, NodeId]
L = ((1, 2), (0, 6))  # MTH(D[4:7]) = node_hash(i, j) in proof_test.go's picture

INCLUSION_IDS: list[tuple[int, int, list[ProofItem]]] = [  # (size, index, proof)
    (1, 0, []),
    (2, 0, [(0, 1)]),
    (2, 1, [(0, 0)]),
    (3, 1, [(0, 0), (0, 2)]),
    (4, 2, [(0, 3), (1, 0)]),
    (5, 3, [(0, 2), (1, 0), (0, 4)]),
    (6, 3, [(0, 2), (1, 0), (1, 2)]),
    (6, 4, [(0, 5), (2, 0)]),
    (7, 0, [(0, 1), (1, 1), L]),
    (7, 1, [(0, 0), (1, 1), L]),
    (7, 2, [(0, 3), (1, 0), L]),
    (7, 3, [(0, 2), (1, 0), L]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]),
    (7, 5, [(0, 4), (0, 6), (2, 0)]),
    (7, 6, [(1, 2), (2, 0)]),
]

CONSISTENCY_IDS: list[tuple[int, int, list[ProofItem]]] = [  # (old size, new size, proof)
    (1, 2, [(0, 1)]),
    (1, 4, [(0, 1), (1, 1)]),
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (1, 7, [(0, 1), (1, 1), L]),
    (2, 3, [(0, 2)]),
    (2, 4, [(1, 1)]),
    (2, 8, [(1, 1), (2, 1)]),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)]),
    (3, 7, [(0, 2), (0, 3), (1, 0), L]),
    (4, 6, [(1, 2)]),
    (4, 7, [L]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    *((size, size, []) for size in (1, 2, 3, 4, 5, 7, 8)),
]

LEAVES = [leaf_hash(data) for data in LEAF_INPUTS]


def node(item: ProofItem) -> bytes:
    """The hash a proof item of INCLUSION_IDS / CONSISTENCY_IDS stands for."""
    first, second = item
    if isinstance(first, int) and isinstance(second, int):
        return NODE_HASHES[first][second]
    assert isinstance(first, tuple) and isinstance(second, tuple)
    return node_hash(node(first), node(second))


# --- A reference implementation straight from RFC 6962's recursive definitions --------------


def split_point(n: int) -> int:
    """The largest power of two strictly less than ``n``."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = split_point(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = split_point(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if whole else [ref_mth(d)]
    k = split_point(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], whole), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), empty for the trivial sizes."""
    return [] if m in (0, len(d)) else ref_subproof(m, d, True)


def make_leaves(n: int, salt: int = 0) -> list[bytes]:
    """``n`` distinct leaf hashes."""
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


def flip(value: bytes, at: int = 0, mask: int = 0x08) -> bytes:
    """``value`` with one bit changed."""
    return value[:at] + bytes([value[at] ^ mask]) + value[at + 1 :]


# --- Known-answer tests --------------------------------------------------------------------


def test_hasher_vectors() -> None:
    assert EMPTY_ROOT == ROOTS[0] == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert a != b
    assert node_hash(a, b) != leaf_hash(a + b)
    assert node_hash(a, b) != node_hash(b, a)


def test_leaf_hashes_match_vectors() -> None:
    assert NODE_HASHES[0] == LEAVES


def test_perfect_subtree_vectors() -> None:
    for level, hashes in enumerate(NODE_HASHES):
        width = 1 << level
        for i, expected in enumerate(hashes):
            assert root(LEAVES[i * width : (i + 1) * width]) == expected


@pytest.mark.parametrize("size", range(9))
def test_root_vectors(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]
    assert ref_mth(LEAVES[:size]) == ROOTS[size]


@pytest.mark.parametrize("size", range(9))
def test_frontier_vectors(size: int) -> None:
    expected = [NODE_HASHES[level][i] for level, i in COMPACT[size]]
    assert frontier_of(LEAVES[:size]) == expected
    assert append([], 0, LEAVES[:size]) == expected
    assert root_from_frontier(expected) == ROOTS[size]


def test_append_one_at_a_time_matches_every_root() -> None:
    frontier: list[bytes] = []
    assert root_from_frontier(frontier) == EMPTY_ROOT
    for size, leaf in enumerate(LEAVES, start=1):
        frontier = append(frontier, size - 1, [leaf])
        assert root_from_frontier(frontier) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, expected: list[bytes]) -> None:
    assert inclusion_proof(index, LEAVES[:size]) == expected
    assert verify_inclusion(LEAVES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("size", "index", "expected"), INCLUSION_IDS)
def test_inclusion_node_ids(size: int, index: int, expected: list[ProofItem]) -> None:
    proof = inclusion_proof(index, LEAVES[:size])
    assert proof == [node(item) for item in expected]
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, expected: list[bytes]) -> None:
    assert consistency_proof(old, LEAVES[:new]) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_IDS)
def test_consistency_node_ids(old: int, new: int, expected: list[ProofItem]) -> None:
    proof = consistency_proof(old, LEAVES[:new])
    assert proof == [node(item) for item in expected]
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_every_small_proof_verifies_against_the_vector_roots() -> None:
    for size in range(1, 9):
        for index in range(size):
            proof = inclusion_proof(index, LEAVES[:size])
            assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])
        for old in range(size + 1):
            proof = consistency_proof(old, LEAVES[:size])
            assert verify_consistency(old, size, ROOTS[old], ROOTS[size], proof)


def inclusion_probes(
    index: int, size: int, proof: list[bytes], root_hash: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    """Wrong variants of a valid inclusion proof (the probes of proof/verify_test.go)."""
    probes = [
        ("index - 1", index - 1, size, proof, root_hash, leaf),
        ("index + 1", index + 1, size, proof, root_hash, leaf),
        ("index ^ 2", index ^ 2, size, proof, root_hash, leaf),
        ("size * 2", index, size * 2, proof, root_hash, leaf),
        ("size / 2", index, size // 2, proof, root_hash, leaf),
        ("wrong leaf", index, size, proof, root_hash, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_ROOT, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root_hash, leaf),
        ("trailing root", index, size, [*proof, root_hash], root_hash, leaf),
        ("preceding garbage", index, size, [b"", *proof], root_hash, leaf),
        ("preceding root", index, size, [root_hash, *proof], root_hash, leaf),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = flip(wrong[i])
        probes.append((f"modified proof[{i}]", index, size, wrong, root_hash, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root_hash, leaf))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", index, size, inserted, root_hash, leaf))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    probes = inclusion_probes(index, size, proof, ROOTS[size], LEAVES[index])
    accepted = [desc for desc, i, n, p, r, leaf in probes if verify_inclusion(leaf, i, n, p, r)]
    assert accepted == []


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[old], ROOTS[new]
    probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
        ("old - 1", old - 1, new, r1, r2, proof),
        ("old + 1", old + 1, new, r1, r2, proof),
        ("old ^ 2", old ^ 2, new, r1, r2, proof),
        ("new * 2", old, new * 2, r1, r2, proof),
        ("new / 2", old, new // 2, r1, r2, proof),
        ("wrong old root", old, new, b"WrongRoot", r2, proof),
        ("wrong new root", old, new, r1, b"WrongRoot", proof),
        ("swapped roots", old, new, r2, r1, proof),
        ("empty proof", old, new, r1, r2, []),
        ("trailing garbage", old, new, r1, r2, [*proof, b""]),
        ("trailing old root", old, new, r1, r2, [*proof, r1]),
        ("trailing new root", old, new, r1, r2, [*proof, r2]),
        ("preceding garbage", old, new, r1, r2, [b"", *proof]),
        ("preceding old root", old, new, r1, r2, [r1, *proof]),
        ("preceding new root", old, new, r1, r2, [r2, *proof]),
        ("preceding proof[0]", old, new, r1, r2, [proof[0], *proof]),
        ("truncated proof", old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = flip(wrong[i], mask=0x10)
        probes.append((f"modified proof[{i}]", old, new, r1, r2, wrong))
    accepted = [desc for desc, m, n, a, b, p in probes if verify_consistency(m, n, a, b, p)]
    assert accepted == []


def test_proofs_longer_than_the_tree_never_verify() -> None:
    # An extra hash past the top of the tree would hash the true root into a forged one.
    index, size, proof = INCLUSION_VECTORS[1]
    forged = node_hash(SOME_HASH, ROOTS[size])
    assert not verify_inclusion(LEAVES[index], index, size, [*proof, SOME_HASH], forged)
    old, new, consistency = CONSISTENCY_VECTORS[1]
    forged_old, forged_new = node_hash(SOME_HASH, ROOTS[old]), node_hash(SOME_HASH, ROOTS[new])
    assert not verify_consistency(old, new, forged_old, forged_new, [*consistency, SOME_HASH])


def test_verify_inclusion_single_entry() -> None:
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(b"", 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")  # hashes of the wrong size


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1), (-1, 1)])
def test_verify_inclusion_rejects_impossible_positions(index: int, size: int) -> None:
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "ok"),
    [
        (0, 0, b"root1", b"root2", [], False),
        (1, 1, b"root1", b"root2", [], False),
        (0, 0, b"root1", b"root1", [], True),
        (0, 1, b"root1", b"root2", [], True),
        (1, 1, b"root2", b"root2", [], True),
        (1, 0, b"root1", b"root2", [], False),
        (2, 1, b"root1", b"root2", [], False),
        (1, 2, b"root1", b"root2", [], False),
        (0, 0, EMPTY_ROOT, b"root2", [], False),
        (1, 1, EMPTY_ROOT, b"root2", [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (-1, 1, EMPTY_ROOT, EMPTY_ROOT, [], False),
    ],
)
def test_verify_consistency_trivial_cases(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], ok: bool
) -> None:
    assert verify_consistency(old, new, old_root, new_root, proof) is ok


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(0, [])
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(8, LEAVES)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(-1, LEAVES)
    with pytest.raises(ValueError, match="outside"):
        consistency_proof(9, LEAVES)
    with pytest.raises(ValueError, match="outside"):
        consistency_proof(-1, LEAVES)
    with pytest.raises(ValueError, match="frontier"):
        append([], 3, LEAVES)
    with pytest.raises(ValueError, match="frontier"):
        append(NODE_HASHES[1][:1], 3, LEAVES)
    with pytest.raises(ValueError, match="negative"):
        append([], -1, LEAVES)


def test_trivial_consistency_proofs_are_empty() -> None:
    assert consistency_proof(0, []) == []
    assert consistency_proof(0, LEAVES) == []
    assert consistency_proof(8, LEAVES) == []


def test_matches_the_recursive_definitions_exhaustively() -> None:
    leaves = make_leaves(64)
    for n in range(1, 65):
        tree = leaves[:n]
        assert root(tree) == ref_mth(tree)
        for index in range(n):
            assert inclusion_proof(index, tree) == ref_path(index, tree)
        for old in range(n + 1):
            assert consistency_proof(old, tree) == ref_proof(old, tree)


# --- Properties ----------------------------------------------------------------------------

tree_sizes = st.integers(min_value=1, max_value=300)
salts = st.integers(min_value=0, max_value=2**32)


@settings(max_examples=60)
@given(n=tree_sizes, salt=salts, data=st.data())
def test_inclusion_proofs_verify_and_bind(n: int, salt: int, data: st.DataObject) -> None:
    leaves = make_leaves(n, salt)
    root_hash = root(leaves)
    assert root_hash == root_from_frontier(frontier_of(leaves))
    for i in range(n):
        assert verify_inclusion(leaves[i], i, n, inclusion_proof(i, leaves), root_hash)

    index = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    proof = inclusion_proof(index, leaves)
    assert proof == ref_path(index, leaves)

    assert not verify_inclusion(leaf_hash(b"tampered"), index, n, proof, root_hash)
    assert not verify_inclusion(flip(leaves[index], 31), index, n, proof, root_hash)
    assert not verify_inclusion(leaves[index], index, n, proof, flip(root_hash))
    assert not verify_inclusion(leaves[index], index, n, [*proof, SOME_HASH], root_hash)
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="at")
        byte = data.draw(st.integers(min_value=0, max_value=31), label="byte")
        wrong = list(proof)
        wrong[at] = flip(wrong[at], byte, 0x01)
        assert not verify_inclusion(leaves[index], index, n, wrong, root_hash)
        assert not verify_inclusion(leaves[index], index, n, proof[:-1], root_hash)
    if n > 1:
        other = data.draw(
            st.integers(min_value=0, max_value=n - 1).filter(lambda j: j != index), label="other"
        )
        assert not verify_inclusion(leaves[index], other, n, proof, root_hash)
        assert not verify_inclusion(leaves[other], index, n, proof, root_hash)


@settings(max_examples=60)
@given(n=tree_sizes, salt=salts, data=st.data())
def test_consistency_proofs_verify_and_detect_rewrites(
    n: int, salt: int, data: st.DataObject
) -> None:
    leaves = make_leaves(n, salt)
    new_root = root(leaves)
    for old in range(n + 1):
        proof = consistency_proof(old, leaves)
        assert verify_consistency(old, n, root(leaves[:old]), new_root, proof)

    old = data.draw(st.integers(min_value=1, max_value=n), label="old")
    old_root = root(leaves[:old])
    proof = consistency_proof(old, leaves)
    assert proof == ref_proof(old, leaves)

    # The log edits one entry the old head covered, then publishes a new head.
    edited_at = data.draw(st.integers(min_value=0, max_value=old - 1), label="edited_at")
    edited = list(leaves)
    edited[edited_at] = leaf_hash(b"edited")
    # The log drops the newest entry of the old head and appends a new one to hide it.
    dropped = [*leaves[: old - 1], *leaves[old:], leaf_hash(b"appended")]
    for forged in (edited, dropped):
        forged_root = root(forged)
        assert forged_root != new_root
        assert not verify_consistency(old, n, old_root, forged_root, consistency_proof(old, forged))
        assert not verify_consistency(old, n, old_root, forged_root, proof)
    # Simply truncating the log is a shrinking tree, never consistent.
    assert not verify_consistency(old, old - 1, old_root, root(leaves[: old - 1]), [])

    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="at")
        wrong = list(proof)
        wrong[at] = flip(wrong[at], 5, 0x40)
        assert not verify_consistency(old, n, old_root, new_root, wrong)


@given(n=st.integers(min_value=0, max_value=300), salt=salts, data=st.data())
def test_appending_in_chunks_matches_the_whole_tree(n: int, salt: int, data: st.DataObject) -> None:
    leaves = make_leaves(n, salt)
    cuts = sorted(
        data.draw(st.lists(st.integers(min_value=0, max_value=n), max_size=5), label="cuts")
    )
    frontier: list[bytes] = []
    size = 0
    for cut in [*cuts, n]:
        frontier = append(frontier, size, leaves[size:cut])
        size = cut
        assert frontier == frontier_of(leaves[:size])
        assert root_from_frontier(frontier) == root(leaves[:size])
    assert len(frontier) == n.bit_count()
    assert root_from_frontier(frontier) == ref_mth(leaves)


@given(n=st.integers(min_value=0, max_value=300), salt=salts)
def test_frontier_of_is_appending_to_the_empty_tree(n: int, salt: int) -> None:
    leaves = make_leaves(n, salt)
    assert frontier_of(leaves) == append([], 0, leaves)


def test_large_tree() -> None:
    n = 200_000
    leaves = make_leaves(n)
    root_hash = root(leaves)
    assert root_from_frontier(frontier_of(leaves)) == root_hash
    index = n // 2 + 12_345
    proof = inclusion_proof(index, leaves)
    assert len(proof) == (n - 1).bit_length()
    assert verify_inclusion(leaves[index], index, n, proof, root_hash)
    assert not verify_inclusion(leaves[index], index + 1, n, proof, root_hash)
    old = 131_073
    consistency = consistency_proof(old, leaves)
    assert verify_consistency(old, n, root(leaves[:old]), root_hash, consistency)


# --- contrib/audit/verify_proof.py -----------------------------------------------------------


def canonical(body: dict[str, Any]) -> str:
    """An audit entry's canonical JSON text, as the log would hash it."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def signed_proof_document(proved: Sequence[int]) -> dict[str, Any]:
    """A ``ruxue audit prove`` document over a 12-entry log, signed with a fresh key."""
    texts = [
        canonical({"action": "application.submit", "actor": f"家长{i}", "entity_id": f"R{i:04d}"})
        for i in range(12)
    ]
    leaves = [leaf_hash(text.encode("utf-8")) for text in texts]
    root_hex = root(leaves).hex()
    signed_at = "2026-05-01T08:00:00Z"
    key = Ed25519PrivateKey.generate()
    public_key = key.public_key().public_bytes_raw()
    message = f"ruxue-audit-head/v1\n{len(leaves)}\n{root_hex}\n{signed_at}".encode()
    return {
        "head": {
            "tree_size": len(leaves),
            "root_hash": root_hex,
            "signed_at": signed_at,
            "key_id": hashlib.sha256(public_key).hexdigest(),
            "signature": key.sign(message).hex(),
            "public_key": public_key.hex(),
        },
        "entries": [
            {
                "index": i,
                "leaf": texts[i],
                "proof": [p.hex() for p in inclusion_proof(i, leaves)],
            }
            for i in proved
        ],
    }


def run_checker(
    path: Path, *args: str, block_cryptography: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the stand-alone checker on ``path`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    if block_cryptography:
        code = (
            "import runpy, sys; sys.modules['cryptography'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')"
        )
        command = [sys.executable, "-c", code, str(VERIFY_SCRIPT), str(path), *args]
    else:
        command = [sys.executable, str(VERIFY_SCRIPT), str(path), *args]
    return subprocess.run(
        command, capture_output=True, text=True, encoding="utf-8", env=env, check=False
    )


def flip_proof_byte(doc: dict[str, Any]) -> None:
    proof = doc["entries"][1]["proof"]
    proof[1] = flip(bytes.fromhex(proof[1]), 7, 0x01).hex()


def flip_signature(doc: dict[str, Any]) -> None:
    doc["head"]["signature"] = flip(bytes.fromhex(doc["head"]["signature"]), 3).hex()


def resign_later(doc: dict[str, Any]) -> None:
    doc["head"]["signed_at"] = "2026-05-02T08:00:00Z"


def edit_leaf(doc: dict[str, Any]) -> None:
    doc["entries"][0]["leaf"] = doc["entries"][0]["leaf"].replace("家长3", "家长4")


def swap_key_id(doc: dict[str, Any]) -> None:
    doc["head"]["key_id"] = hashlib.sha256(b"someone else").hexdigest()


def shift_index(doc: dict[str, Any]) -> None:
    doc["entries"][0]["index"] += 1


def drop_entries(doc: dict[str, Any]) -> None:
    doc["entries"] = []


@pytest.mark.slow
def test_checker_accepts_a_genuine_proof(tmp_path: Path) -> None:
    doc = signed_proof_document([3, 7, 11])
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    completed = run_checker(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("OK     entry") == 3
    assert "OK     signature" in completed.stdout
    assert "全部通过 (all verified)" in completed.stdout

    from_stdin = subprocess.run(
        [sys.executable, str(VERIFY_SCRIPT)],
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    assert from_stdin.returncode == 0, from_stdin.stdout + from_stdin.stderr

    pinned = run_checker(path, "--key-id", doc["head"]["key_id"].upper())
    assert pinned.returncode == 0, pinned.stdout
    assert run_checker(path, "--key-id", "00" * 32).returncode == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "complaint"),
    [
        (flip_proof_byte, "FAILED entry 7"),
        (flip_signature, "FAILED signature"),
        (resign_later, "FAILED signature"),
        (edit_leaf, "FAILED entry 3"),
        (swap_key_id, "FAILED key id"),
        (shift_index, "FAILED entry 4"),
        (drop_entries, "FAILED no entries"),
    ],
)
def test_checker_rejects_tampering(
    tmp_path: Path, tamper: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    doc = signed_proof_document([3, 7])
    tamper(doc)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    completed = run_checker(path)
    assert completed.returncode == 1, completed.stdout
    assert complaint in completed.stdout
    assert "未通过 (NOT verified)" in completed.stdout


@pytest.mark.slow
def test_checker_without_cryptography(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(signed_proof_document([0])), encoding="utf-8")
    unchecked = run_checker(path, block_cryptography=True)
    assert unchecked.returncode == 1, unchecked.stdout + unchecked.stderr
    assert "signature NOT checked ('cryptography' is not installed)" in unchecked.stdout
    accepted = run_checker(path, "--no-signature", block_cryptography=True)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "OK     entry 0" in accepted.stdout


@pytest.mark.slow
@pytest.mark.parametrize("text", ["not json", "[]", '{"head": {}, "entries": []}'])
def test_checker_rejects_malformed_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "proof.json"
    path.write_text(text, encoding="utf-8")
    completed = run_checker(path)
    assert completed.returncode == 1
    assert "FAILED cannot read the proof" in completed.stdout
