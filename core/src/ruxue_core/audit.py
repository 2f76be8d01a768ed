"""The tamper-evident audit log: a Merkle tree over append-only entries, as Certificate
Transparency logs keep (RFC 6962).

Writers append without any lock: an entry is inserted in the writer's own transaction with its
leaf hash and no position. The sequencer (the periodic job ``audit.sequence``) gives committed
entries the next positions, extends the tree from its frontier and writes a signed tree head
(STH). ``ruxue audit verify`` recomputes every leaf and every head; ``ruxue audit prove`` gives
inclusion proofs that ``contrib/audit/verify_proof.py`` checks on its own; a head published
elsewhere (``ruxue audit head``) makes deleting even the newest entries detectable.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, col, func, select

from ruxue_core import merkle
from ruxue_core.domain import AuditEvent, AuditHead
from ruxue_core.domain.types import utcnow

SEQUENCE_KIND: Final = "audit.sequence"
SEQUENCE_EVERY: Final = 1.0
"""Seconds between sequencer runs: how long an entry waits for its position and head."""
SEQUENCE_BATCH: Final = 20_000
_READ_BATCH: Final = 5_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audited action waiting to be written when its unit of work commits."""

    actor: str
    role: str
    action: str
    entity: str
    entity_id: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)


def canonical(event: AuditEvent | AuditEntry) -> str:
    """The entry's canonical JSON: exactly the bytes its leaf hash covers."""
    body = {
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "data": event.data,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(event: AuditEvent | AuditEntry) -> bytes:
    """The RFC 6962 leaf hash of an entry."""
    return merkle.leaf_hash(canonical(event).encode())


def rows(entries: Sequence[AuditEntry]) -> list[AuditEvent]:
    """The rows for ``entries``: leaf hashes computed, positions left to the sequencer."""
    return [
        AuditEvent(
            at=e.at,
            actor=e.actor,
            role=e.role,
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id,
            data=e.data,
            leaf_hash=entry_hash(e).hex(),
        )
        for e in entries
    ]


# --- signed tree heads ----------------------------------------------------------------------


def head_message(tree_size: int, root_hash: str, signed_at: datetime) -> bytes:
    """The bytes a tree head's signature covers."""
    return f"ruxue-audit-head/v1\n{tree_size}\n{root_hash}\n{_timestamp(signed_at)}".encode()


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte Ed25519 public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, naming the key that signed a head."""
    return hashlib.sha256(public_key_bytes(key)).hexdigest()


def head_is_signed(head: AuditHead, public: Ed25519PublicKey) -> bool:
    """Whether ``head`` carries a valid signature by ``public``."""
    try:
        public.verify(
            bytes.fromhex(head.signature),
            head_message(head.tree_size, head.root_hash, head.signed_at),
        )
    except (InvalidSignature, ValueError):
        return False
    return head.key_id == key_id(public)


def export_head(head: AuditHead, public: Ed25519PublicKey) -> dict[str, Any]:
    """A head as a district publishes it: enough to check it and later proofs against it."""
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "signed_at": _timestamp(head.signed_at),
        "key_id": head.key_id,
        "signature": head.signature,
        "public_key": public_key_bytes(public).hex(),
    }


def latest_head(session: Session) -> AuditHead | None:
    """The newest signed tree head, if the sequencer has run."""
    return session.exec(select(AuditHead).order_by(col(AuditHead.tree_size).desc())).first()


# --- the sequencer --------------------------------------------------------------------------


def sequence(session: Session, signing_key: Ed25519PrivateKey) -> AuditHead | None:
    """Give committed, unsequenced entries the next positions and sign the new head.

    Runs in the caller's transaction. Two sequencers racing both try the same positions and
    head size, which are unique: one fails and is retried. Returns the new head, if any.
    """
    head = latest_head(session)
    size = head.tree_size if head else 0
    frontier = [bytes.fromhex(h) for h in head.frontier] if head else []
    pending = session.exec(
        select(AuditEvent.id, AuditEvent.leaf_hash)
        .where(col(AuditEvent.position).is_(None))
        .order_by(col(AuditEvent.id))
        .limit(SEQUENCE_BATCH)
    ).all()
    if not pending:
        return None
    session.connection().execute(
        sa.update(AuditEvent)
        .where(col(AuditEvent.id) == sa.bindparam("row_id"))
        .values(position=sa.bindparam("new_position")),
        [{"row_id": row_id, "new_position": size + i} for i, (row_id, _) in enumerate(pending)],
    )
    frontier = merkle.append(frontier, size, [bytes.fromhex(h) for _, h in pending])
    new_size = size + len(pending)
    root_hash = merkle.root_from_frontier(frontier).hex()
    signed_at = utcnow()
    new_head = AuditHead(
        tree_size=new_size,
        root_hash=root_hash,
        frontier=[h.hex() for h in frontier],
        signed_at=signed_at,
        key_id=key_id(signing_key),
        signature=signing_key.sign(head_message(new_size, root_hash, signed_at)).hex(),
    )
    session.add(new_head)
    session.flush()
    return new_head


# --- verification and proofs ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of checking the log: entries and heads checked, the first problem if any."""

    entries: int
    heads: int
    unsequenced: int
    problem: str | None = None
    position: int | None = None

    @property
    def ok(self) -> bool:
        """Whether every entry and head checked out."""
        return self.problem is None


def _sequenced(session: Session) -> Iterator[AuditEvent]:
    after = -1
    while True:
        batch = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.position) > after)
            .order_by(col(AuditEvent.position))
            .limit(_READ_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].position if batch[-1].position is not None else after


def verify_log(
    session: Session,
    public: Ed25519PublicKey,
    *,
    published: Sequence[dict[str, Any]] = (),
) -> VerifyReport:
    """Recompute every leaf from its row and every head's root; check every signature, the
    consistency of successive heads, and each ``published`` head (exported earlier).

    Editing an entry changes its leaf; deleting one leaves a gap or shortens the tree below a
    head that covered it; both break a root that a signed (or published) head fixed.
    """
    heads = list(session.exec(select(AuditHead).order_by(col(AuditHead.tree_size))).all())
    targets = {h.tree_size: h.root_hash for h in heads}
    for item in published:
        targets.setdefault(int(item["tree_size"]), str(item["root_hash"]))
    for head in heads:
        if not head_is_signed(head, public):
            return _report(0, heads, session, f"树头 {head.tree_size} 的签名无效", None)
    for item in published:
        problem = _published_problem(item, public, targets)
        if problem:
            return _report(0, heads, session, problem, None)
    leaves: list[bytes] = []
    roots: dict[int, bytes] = {}
    frontier: list[bytes] = []
    for event in _sequenced(session):
        if event.position != len(leaves):
            return _report(len(leaves), heads, session, "审计记录缺失（位置不连续）", len(leaves))
        leaf = entry_hash(event)
        if leaf.hex() != event.leaf_hash:
            return _report(len(leaves), heads, session, "审计记录内容被篡改", event.position)
        frontier = merkle.append(frontier, len(leaves), [leaf])
        leaves.append(leaf)
        if len(leaves) in targets:
            roots[len(leaves)] = merkle.root_from_frontier(frontier)
    for size, root_hash in sorted(targets.items()):
        if size > len(leaves):
            problem = f"树头覆盖 {size} 条记录，现仅存 {len(leaves)} 条（记录被删除）"
            return _report(len(leaves), heads, session, problem, len(leaves))
        if roots.get(size, merkle.EMPTY_ROOT).hex() != root_hash:
            return _report(len(leaves), heads, session, f"树头 {size} 的根哈希与记录不符", None)
    sizes = sorted(targets)
    for old, new in itertools.pairwise(sizes):
        proof = merkle.consistency_proof(old, leaves[:new])
        if not merkle.verify_consistency(old, new, roots[old], roots[new], proof):
            return _report(len(leaves), heads, session, f"树头 {old} 与 {new} 不一致", None)
    return _report(len(leaves), heads, session, None, None)


def _published_problem(
    item: dict[str, Any], public: Ed25519PublicKey, targets: dict[int, str]
) -> str | None:
    head = AuditHead(
        tree_size=int(item["tree_size"]),
        root_hash=str(item["root_hash"]),
        signed_at=datetime.fromisoformat(str(item["signed_at"]).replace("Z", "+00:00")),
        key_id=str(item.get("key_id", "")),
        signature=str(item.get("signature", "")),
    )
    if not head_is_signed(head, public):
        return f"已公布的树头 {head.tree_size} 签名无效"
    if targets.get(head.tree_size) not in (None, head.root_hash):
        return f"已公布的树头 {head.tree_size} 与库中树头不一致（日志被改写）"
    return None


def unsequenced_count(session: Session) -> int:
    """Entries committed but not yet in any tree head."""
    count = session.exec(
        select(func.count()).select_from(AuditEvent).where(col(AuditEvent.position).is_(None))
    ).one()
    return int(count)


def _report(
    entries: int, heads: list[AuditHead], session: Session, problem: str | None, at: int | None
) -> VerifyReport:
    return VerifyReport(entries, len(heads), unsequenced_count(session), problem, at)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """One entry, its position and its audit path to the head's root."""

    index: int
    leaf: str
    proof: list[str]


def prove(session: Session, entity_id: str) -> tuple[AuditHead | None, list[InclusionProof]]:
    """Inclusion proofs of every sequenced entry about ``entity_id`` against the latest head."""
    head = latest_head(session)
    if head is None:
        return None, []
    entries = session.exec(
        select(AuditEvent)
        .where(
            col(AuditEvent.entity_id) == entity_id,
            col(AuditEvent.position).is_not(None),
            col(AuditEvent.position) < head.tree_size,
        )
        .order_by(col(AuditEvent.position))
    ).all()
    if not entries:
        return head, []
    leaves = [
        bytes.fromhex(h)
        for h in session.exec(
            select(AuditEvent.leaf_hash)
            .where(col(AuditEvent.position) < head.tree_size)
            .order_by(col(AuditEvent.position))
        ).all()
    ]
    proofs = []
    for event in entries:
        assert event.position is not None
        path = merkle.inclusion_proof(event.position, leaves)
        proofs.append(InclusionProof(event.position, canonical(event), [p.hex() for p in path]))
    return head, proofs
