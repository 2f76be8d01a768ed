"""The Merkle audit log: entries appended without positions, sequenced under signed tree heads,
verified end to end; any edit, deletion or forged head detected; inclusion proofs that verify on
their own; concurrent writers (in one process, and in two overlapping PostgreSQL transactions)
leaving a log that still verifies."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ruxue_core import audit, keys, merkle
from ruxue_core.audit import AuditEntry, InclusionProof, VerifyReport
from ruxue_core.domain import AuditEvent, AuditHead
from ruxue_core.domain.enums import ReviewDecision
from ruxue_core.errors import Forbidden
from ruxue_core.jobs import Worker
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    ReviewApplication,
    Submitted,
    WithdrawApplication,
    review_application,
    submit_application,
    withdraw_application,
)
from ruxue_core.services.operations import audit_head, prove_audit, sequence_handler, verify_audit
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    AUDITOR,
    BUREAU,
    GUARDIAN,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
VERIFY_SCRIPT = ROOT / "contrib" / "audit" / "verify_proof.py"
WRITER_SCRIPT = Path(__file__).with_name("audit_writer.py")
PG_URL = os.environ.get("RUXUE_TEST_DATABASE_URL")


# --- helpers ---------------------------------------------------------------------------------


def signing_key(runtime: Runtime) -> Ed25519PrivateKey:
    """The deployment's head-signing key (made in the test's data dir)."""
    return keys.audit_signing_key(runtime.settings)


def public_key(runtime: Runtime) -> Ed25519PublicKey:
    return signing_key(runtime).public_key()


async def sequence(runtime: Runtime) -> AuditHead | None:
    """Run the sequencer once, as the periodic job's step does."""
    key = signing_key(runtime)

    def run(uow: UnitOfWork) -> AuditHead | None:
        head = audit.sequence(uow.session, key)
        uow.commit()
        return head

    return await runtime.write(run)


async def verify(runtime: Runtime, published: Sequence[dict[str, Any]] = ()) -> VerifyReport:
    public = public_key(runtime)
    return await runtime.read(
        lambda uow: audit.verify_log(uow.session, public, published=published)
    )


async def events(runtime: Runtime) -> list[AuditEvent]:
    """Every entry, in the order written (id)."""
    return await runtime.read(
        lambda uow: list(uow.session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())
    )


async def latest_head(runtime: Runtime) -> AuditHead:
    head = await runtime.read(lambda uow: audit.latest_head(uow.session))
    assert head is not None
    return head


async def tamper(runtime: Runtime, *statements: sa.Executable) -> None:
    """Change rows behind the application's back, as someone with database access could."""

    def run(uow: UnitOfWork) -> None:
        for statement in statements:
            uow.session.connection().execute(statement)
        uow.commit()

    await runtime.write(run)


async def submit(runtime: Runtime, season: str) -> Submitted:
    command = submit_command(season, child_id=child_id_number())
    return await submit_application(runtime, command, GUARDIAN)


async def some_history(runtime: Runtime, season: str) -> Submitted:
    """Season load (by the fixture), submissions, a withdrawal, a referral to manual review by
    the system and a return by the bureau; returns the first submission."""
    first = await submit(runtime, season)
    second = await submit(runtime, season)
    await submit(runtime, season)
    await withdraw_application(runtime, WithdrawApplication(second.application_id), GUARDIAN)

    def refer(uow: UnitOfWork) -> None:
        case = load_case(uow, first.application_id)
        assert case is not None
        apply_event(uow, case, Event.START_VERIFICATION, Principal.system())
        apply_event(uow, case, Event.REFER_TO_MANUAL, Principal.system())
        uow.commit()

    await runtime.write(refer)
    await review_application(
        runtime,
        ReviewApplication(first.application_id, ReviewDecision.RETURN, "请补充材料"),
        BUREAU,
    )
    return first


async def sequenced_history(runtime: Runtime, season: str) -> list[AuditEvent]:
    """:func:`some_history`, sequenced under one head; the entries in position order."""
    await some_history(runtime, season)
    assert await sequence(runtime) is not None
    rows = await events(runtime)
    assert all(row.position is not None for row in rows)
    return sorted(rows, key=lambda row: row.position or 0)


def prove_about(entity_id: str, uow: UnitOfWork) -> tuple[AuditHead | None, list[InclusionProof]]:
    """Inclusion proofs of the entries about ``entity_id`` against the latest head."""
    return audit.prove(uow.session, entity_id)


def flip_hex(text: str, index: int = 0) -> str:
    """``text`` (hex) with one nibble changed."""
    return text[:index] + ("1" if text[index] != "1" else "2") + text[index + 1 :]


# --- sequencing ------------------------------------------------------------------------------


async def test_entries_have_no_position_until_the_sequencer_runs(
    runtime: Runtime, season: str
) -> None:
    await some_history(runtime, season)
    rows = await events(runtime)
    assert len(rows) >= 8
    assert all(row.position is None for row in rows)
    for row in rows:
        assert row.leaf_hash == audit.entry_hash(row).hex()
    actions = [row.action for row in rows]
    assert actions[0] == "season.load"
    assert actions.count("application.submit") == 3
    for action in ("withdraw", "start_verification", "refer_to_manual", "return"):
        assert f"application.{action}" in actions

    before = await verify(runtime)
    assert before == VerifyReport(entries=0, heads=0, unsequenced=len(rows))
    assert before.ok

    # The periodic job positions them and signs a head.
    periodic = {audit.SEQUENCE_KIND: 60.0}
    worker = Worker(runtime, {audit.SEQUENCE_KIND: sequence_handler}, periodic=periodic)
    await worker.drain()
    sequenced = await events(runtime)
    assert [row.position for row in sequenced] == list(range(len(rows)))  # in id order
    head = await latest_head(runtime)
    assert head.tree_size == len(rows)
    leaves = [bytes.fromhex(row.leaf_hash) for row in sequenced]
    assert head.root_hash == merkle.root(leaves).hex()
    assert audit.head_is_signed(head, public_key(runtime))

    after = await verify(runtime)
    assert after == VerifyReport(entries=len(rows), heads=1, unsequenced=0)
    assert verify_audit(runtime, AUDITOR).ok  # the auditors' use case says the same
    with pytest.raises(Forbidden):
        verify_audit(runtime, GUARDIAN)


async def test_an_empty_log_verifies(runtime: Runtime) -> None:
    assert await sequence(runtime) is None  # nothing to sequence: no head
    report = await verify(runtime)
    assert report == VerifyReport(entries=0, heads=0, unsequenced=0)
    assert report.ok
    assert prove_audit(runtime, "R-none", AUDITOR) is None
    assert audit_head(runtime, AUDITOR) is None


async def test_later_entries_extend_the_tree_under_a_consistent_new_head(
    runtime: Runtime, season: str
) -> None:
    rows = await sequenced_history(runtime, season)
    first_head = await latest_head(runtime)
    published = audit.export_head(first_head, public_key(runtime))
    assert audit_head(runtime, AUDITOR) == published

    await submit(runtime, season)
    second = await sequence(runtime)
    assert second is not None and second.tree_size > first_head.tree_size
    report = await verify(runtime, published=[published])
    assert report.ok, report
    assert (report.entries, report.heads) == (second.tree_size, 2)
    leaves = [bytes.fromhex(row.leaf_hash) for row in rows]
    assert first_head.root_hash == merkle.root(leaves).hex()


# --- tampering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"data": {"from": "submitted", "to": "approved", "version": 99, "comment": ""}},
        {"actor": "mallory"},
        {"action": "application.approve"},
        {"entity_id": "42070420260701000000000"},
        {"at": datetime(2020, 1, 1)},
    ],
    ids=["data", "actor", "action", "entity_id", "at"],
)
async def test_editing_an_entry_is_detected_at_its_position(
    runtime: Runtime, season: str, values: dict[str, object]
) -> None:
    rows = await sequenced_history(runtime, season)
    victim = rows[len(rows) // 2]
    await tamper(
        runtime, sa.update(AuditEvent).where(col(AuditEvent.id) == victim.id).values(**values)
    )

    report = await verify(runtime)
    assert not report.ok
    assert report.position == victim.position == len(rows) // 2
    assert report.entries == len(rows) // 2, "every entry before the victim checked out"
    assert report.problem is not None
    assert "篡改" in report.problem


async def test_editing_an_entry_with_a_recomputed_leaf_is_caught_by_the_signed_head(
    runtime: Runtime, season: str
) -> None:
    rows = await sequenced_history(runtime, season)
    victim = rows[2]
    victim.data = {**victim.data, "comment": "已篡改"}
    forged_leaf = audit.entry_hash(victim).hex()
    await tamper(
        runtime,
        sa.update(AuditEvent)
        .where(col(AuditEvent.id) == victim.id)
        .values(data=victim.data, leaf_hash=forged_leaf),
    )
    report = await verify(runtime)
    assert not report.ok
    assert report.problem is not None
    assert "根哈希与记录不符" in report.problem
    assert report.entries == len(rows)


async def test_a_head_re_signed_by_another_key_is_refused(runtime: Runtime, season: str) -> None:
    rows = await sequenced_history(runtime, season)
    victim = rows[3]
    victim.data = {**victim.data, "comment": "已篡改"}
    leaves = [bytes.fromhex(row.leaf_hash) for row in rows]
    leaves[3] = audit.entry_hash(victim)
    mallory = Ed25519PrivateKey.generate()
    head = await latest_head(runtime)
    root_hash = merkle.root(leaves).hex()
    signature = mallory.sign(audit.head_message(head.tree_size, root_hash, head.signed_at))
    await tamper(
        runtime,
        sa.update(AuditEvent)
        .where(col(AuditEvent.id) == victim.id)
        .values(data=victim.data, leaf_hash=leaves[3].hex()),
        sa.update(AuditHead)
        .where(col(AuditHead.id) == head.id)
        .values(
            root_hash=root_hash,
            frontier=[h.hex() for h in merkle.frontier_of(leaves)],
            key_id=audit.key_id(mallory),
            signature=signature.hex(),
        ),
    )
    report = await verify(runtime)
    assert not report.ok
    assert report.problem == f"树头 {head.tree_size} 的签名无效"


async def test_a_forged_head_signature_is_detected(runtime: Runtime, season: str) -> None:
    await sequenced_history(runtime, season)
    head = await latest_head(runtime)
    published = audit.export_head(head, public_key(runtime))
    await tamper(
        runtime,
        sa.update(AuditHead)
        .where(col(AuditHead.id) == head.id)
        .values(signature=flip_hex(head.signature, 5)),
    )
    report = await verify(runtime)
    assert not report.ok
    assert report.problem == f"树头 {head.tree_size} 的签名无效"

    forged = {**published, "signature": flip_hex(published["signature"], 9)}
    await tamper(runtime, sa.delete(AuditHead))
    assert (await verify(runtime)).ok  # with the stored heads gone, only a published one helps
    report = await verify(runtime, published=[forged])
    assert report.problem == f"已公布的树头 {head.tree_size} 签名无效"


async def test_deleting_a_middle_entry_is_detected(runtime: Runtime, season: str) -> None:
    rows = await sequenced_history(runtime, season)
    middle = len(rows) // 2
    await tamper(runtime, sa.delete(AuditEvent).where(col(AuditEvent.id) == rows[middle].id))

    report = await verify(runtime)
    assert not report.ok
    assert report.position == middle
    assert report.entries == middle
    assert report.problem is not None
    assert "缺失" in report.problem


async def test_inserting_an_entry_in_the_middle_is_detected(runtime: Runtime, season: str) -> None:
    rows = await sequenced_history(runtime, season)
    at = len(rows) // 2
    forged = AuditEntry("mallory", "admin", "application.approve", "application", "x")
    statements: list[sa.Executable] = [
        sa.update(AuditEvent)
        .where(col(AuditEvent.id) == row.id)
        .values(position=(row.position or 0) + 1)
        for row in reversed(rows[at:])  # make room, last first (positions are unique)
    ]
    [forged_row] = audit.rows([forged])
    statements.append(
        sa.insert(AuditEvent).values(
            at=forged_row.at,
            actor=forged_row.actor,
            role=forged_row.role,
            action=forged_row.action,
            entity=forged_row.entity,
            entity_id=forged_row.entity_id,
            data=forged_row.data,
            leaf_hash=forged_row.leaf_hash,
            position=at,
        )
    )
    await tamper(runtime, *statements)
    report = await verify(runtime)
    assert not report.ok
    assert report.problem is not None
    assert "根哈希与记录不符" in report.problem


async def test_deleting_the_newest_entry_is_detected_by_the_signed_and_the_published_head(
    runtime: Runtime, season: str
) -> None:
    rows = await sequenced_history(runtime, season)
    newest = rows[-1]
    head = await latest_head(runtime)
    assert head.tree_size == len(rows)
    exported = audit.export_head(head, public_key(runtime))
    exported = json.loads(json.dumps(exported))  # as published: plain JSON

    await tamper(runtime, sa.delete(AuditEvent).where(col(AuditEvent.id) == newest.id))
    report = await verify(runtime)
    assert not report.ok
    assert report.position == len(rows) - 1
    assert report.problem is not None and "记录被删除" in report.problem

    # The attacker also deletes the signed heads: the database alone now looks consistent…
    await tamper(runtime, sa.delete(AuditHead))
    alone = await verify(runtime)
    assert alone.ok and alone.entries == len(rows) - 1
    # …but not against the head published earlier.
    report = await verify(runtime, published=[exported])
    assert not report.ok
    assert report.problem is not None and "记录被删除" in report.problem

    # Nor once new entries fill the tree back up to the published size under a new head.
    await submit(runtime, season)
    await tamper(runtime, sa.update(AuditEvent).values(position=None))
    new_head = await sequence(runtime)
    assert new_head is not None and new_head.tree_size == len(rows)
    assert (await verify(runtime)).ok
    report = await verify(runtime, published=[exported])
    assert report.problem == f"已公布的树头 {len(rows)} 与库中树头不一致（日志被改写）"


# --- inclusion proofs ------------------------------------------------------------------------


def run_checker(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run contrib/audit/verify_proof.py on ``path`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, str(VERIFY_SCRIPT), str(path), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )


async def test_inclusion_proofs_verify_in_process(runtime: Runtime, season: str) -> None:
    first = await some_history(runtime, season)
    head = await sequence(runtime)
    assert head is not None
    about_first = [e for e in await events(runtime) if e.entity_id == first.receipt_no]
    assert len(about_first) == 4  # submit, start_verification, refer_to_manual, return

    proved_head, proofs = await runtime.read(lambda uow: audit.prove(uow.session, first.receipt_no))
    assert proved_head == head
    assert [p.index for p in proofs] == [e.position for e in about_first]
    root_hash = bytes.fromhex(head.root_hash)
    for proof, entry in zip(proofs, about_first, strict=True):
        assert proof.leaf == audit.canonical(entry)
        leaf = merkle.leaf_hash(proof.leaf.encode())
        path = [bytes.fromhex(p) for p in proof.proof]
        assert merkle.verify_inclusion(leaf, proof.index, head.tree_size, path, root_hash)
        assert not merkle.verify_inclusion(leaf, proof.index + 1, head.tree_size, path, root_hash)
    _, none = await runtime.read(lambda uow: audit.prove(uow.session, "no-such-receipt"))
    assert none == []


@pytest.mark.slow
async def test_proofs_from_prove_audit_verify_with_the_stand_alone_script(
    runtime: Runtime, season: str, tmp_path: Path
) -> None:
    first = await some_history(runtime, season)
    assert await sequence(runtime) is not None
    with pytest.raises(Forbidden):
        prove_audit(runtime, first.receipt_no, GUARDIAN)
    document = prove_audit(runtime, first.receipt_no, AUDITOR)
    assert document is not None
    assert len(document["entries"]) == 4
    assert document["head"] == audit_head(runtime, AUDITOR)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    completed = await asyncio.to_thread(run_checker, path, "--key-id", document["head"]["key_id"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("OK     entry") == 4
    assert "全部通过 (all verified)" in completed.stdout

    entry = document["entries"][1]
    entry["leaf"] = entry["leaf"].replace("application.", "application.x")
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    tampered = await asyncio.to_thread(run_checker, path)
    assert tampered.returncode == 1, tampered.stdout
    assert f"FAILED entry {entry['index']}" in tampered.stdout


# --- concurrent writers ----------------------------------------------------------------------


async def test_concurrent_writers_all_land_in_one_verifying_log(
    runtime: Runtime, season: str
) -> None:
    writers = 8
    outcomes = await asyncio.gather(
        *(submit(runtime, season) for _ in range(writers)),
        sequence(runtime),  # the sequencer runs meanwhile
        return_exceptions=True,
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    await sequence(runtime)

    rows = await events(runtime)
    report = await verify(runtime)
    assert report.ok, report
    assert report.entries == len(rows)
    assert Counter(row.action for row in rows) == Counter(
        {"season.load": 1, "guardian.create": 1, "application.submit": writers}
    )
    assert report.unsequenced == 0
    assert sorted(row.position or 0 for row in rows) == list(range(len(rows)))
    assert len({row.leaf_hash for row in rows}) == len(rows)


async def test_racing_sequencers_never_break_the_log(
    settings: Settings, runtime: Runtime, season: str
) -> None:
    await some_history(runtime, season)
    others = [Runtime.create(settings) for _ in range(2)]  # two engines: truly concurrent
    try:
        for _ in range(3):
            await submit(runtime, season)
            outcomes = await asyncio.gather(
                *(sequence(rt) for rt in others), return_exceptions=True
            )
            # Both saw the same tree: the loser hits the unique head size (or position) and
            # is retried later; it never leaves a second, different tree.
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            assert all(isinstance(f, IntegrityError) for f in failures), failures
            assert len(failures) < 2
    finally:
        for rt in others:
            await rt.close()
    await sequence(runtime)
    report = await verify(runtime)
    assert report.ok, report
    assert report.unsequenced == 0
    assert report.entries == len(await events(runtime))


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (set RUXUE_TEST_DATABASE_URL)")
async def test_two_overlapping_transactions_in_two_processes_leave_a_verifying_log(
    settings: Settings, runtime: Runtime, season: str, tmp_path: Path
) -> None:
    entries = 5
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUXUE_")}
    env.update(
        RUXUE_DATABASE_URL=settings.database_url,
        RUXUE_DATA_DIR=str(settings.data_dir),
        RUXUE_VERIFIERS="[]",
        RUXUE_NOTIFIERS="[]",
    )
    names = ("writer-a", "writer-b")
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WRITER_SCRIPT),
            name,
            peer,
            str(tmp_path),
            str(entries),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name, peer in (names, names[::-1])
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, (out.decode(), err.decode())

    records = [json.loads((tmp_path / f"{name}.json").read_text()) for name in names]
    started = [datetime.fromisoformat(r["started"]) for r in records]
    committed = [datetime.fromisoformat(r["committed"]) for r in records]
    # Both transactions had written their entries and were open at the same time.
    assert max(started) < min(committed), records
    assert records[0]["pid"] != records[1]["pid"]
    assert all(len(r["ids"]) == entries for r in records)

    head = await sequence(runtime)
    assert head is not None
    report = await verify(runtime)
    assert report.ok, report
    assert report.unsequenced == 0
    for name, record in zip(names, records, strict=True):
        rows = [e for e in await events(runtime) if e.entity_id == name]
        assert sorted(e.id or 0 for e in rows) == sorted(record["ids"])
        assert [e.data["n"] for e in rows] == list(range(entries))
        _, proofs = await runtime.read(functools.partial(prove_about, name))
        assert len(proofs) == entries
        for proof in proofs:
            leaf = merkle.leaf_hash(proof.leaf.encode())
            path = [bytes.fromhex(p) for p in proof.proof]
            root_hash = bytes.fromhex(head.root_hash)
            assert merkle.verify_inclusion(leaf, proof.index, head.tree_size, path, root_hash)
