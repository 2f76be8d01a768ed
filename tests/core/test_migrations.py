"""The Alembic migrations produce exactly the schema the tables in code describe, and 0002
carries a database of the first schema, with its data, over to the new one: plaintext
addresses and evidence facts encrypted, the hash chain turned into Merkle leaves (a broken
chain refused), pending jobs pointed at their rows by the new keys."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel, col, select

from ruxue_core import audit, keys
from ruxue_core.db import create_engine
from ruxue_core.domain import Application, AuditEvent, Evidence, Guardian, Job, Message, Season
from ruxue_core.domain.enums import JobStatus
from ruxue_core.migrate import alembic_config, schema_drift, upgrade, upgrade_async
from ruxue_core.runtime import Runtime
from ruxue_core.security import PiiCipher
from ruxue_core.settings import Settings, to_sync_url
from ruxue_core.uow import UnitOfWork

PG_URL = os.environ.get("RUXUE_TEST_DATABASE_URL")
GENESIS: Final = "0" * 64


def _tables_and_revision(database_url: str) -> tuple[set[str], str | None]:
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            revision = connection.execute(
                sa.text("SELECT version_num FROM alembic_version")
            ).scalar_one_or_none()
    finally:
        engine.dispose()
    return tables, revision


# --- the schema --------------------------------------------------------------------------------


def test_migrated_schema_has_no_drift(database_url: str) -> None:
    assert schema_drift(database_url) == []


def test_database_is_at_the_single_head_with_every_table(database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have branched: {heads}"
    tables, revision = _tables_and_revision(database_url)
    assert revision == heads[0]
    assert set(SQLModel.metadata.tables) <= tables
    assert tables - set(SQLModel.metadata.tables) == {"alembic_version"}


async def test_upgrading_again_is_a_no_op(database_url: str) -> None:
    before = _tables_and_revision(database_url)
    await upgrade_async(database_url)
    assert _tables_and_revision(database_url) == before
    assert schema_drift(database_url) == []


def test_drift_is_reported(database_url: str) -> None:
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE message ADD COLUMN stray INTEGER"))
        drift = schema_drift(database_url)
        assert drift, "an extra column must show up as drift"
        assert "stray" in repr(drift)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE message DROP COLUMN stray"))
        engine.dispose()
    assert schema_drift(database_url) == []


# --- 0001 → 0002 with data ---------------------------------------------------------------------


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own with no schema yet: a SQLite file, or a new PostgreSQL
    database on the test server (dropped afterwards)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = make_url(to_sync_url(PG_URL))
    name = f"{server.database}_mig_{uuid.uuid4().hex[:8]}"
    admin = server.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def old_settings(empty_database_url: str, tmp_path: Path) -> Settings:
    """The deployment's settings: its PII key (made once in the data dir) encrypts both the
    old rows' ID numbers and, in the migration, their addresses and facts."""
    return Settings(
        data_dir=tmp_path / "var", database_url=empty_database_url, verifiers=[], notifiers=[]
    )


ADDRESS: Final = "燕矶镇新街10号"
FACTS: Final = {"move_in_date": "2020-05-01", "relationship": "father", "owner": True}
RECEIPT: Final = "42070420260501000001"
T0: Final = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)


def old_canonical(entry: dict[str, Any]) -> str:
    """The canonical JSON the hash-chained log hashed (``row_hash`` before 0002)."""
    body = {
        "at": entry["at"].isoformat(timespec="microseconds"),
        "actor": entry["actor"],
        "role": entry["role"],
        "action": entry["action"],
        "entity": entry["entity"],
        "entity_id": entry["entity_id"],
        "data": entry["data"],
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def old_chain(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` with ``prev_hash`` and ``hash`` exactly as the old ``seal`` wrote them."""
    prev = GENESIS
    chained = []
    for entry in entries:
        digest = hashlib.sha256(f"{prev}\n{old_canonical(entry)}".encode()).hexdigest()
        chained.append({**entry, "prev_hash": prev, "hash": digest})
        prev = digest
    return chained


AUDIT: Final = [
    {
        "at": T0,
        "actor": "system",
        "role": "system",
        "action": "season.load",
        "entity": "season",
        "entity_id": "2026-primary",
        "data": {"regions": 2, "schools": 1},
    },
    {
        "at": T0 + timedelta(minutes=5),
        "actor": "guardian-1",
        "role": "guardian",
        "action": "application.submit",
        "entity": "application",
        "entity_id": RECEIPT,
        "data": {"from": "draft", "to": "submitted", "version": 1, "comment": "住址：燕矶镇"},
    },
    {
        "at": T0 + timedelta(minutes=5, microseconds=1),
        "actor": "system",
        "role": "system",
        "action": "application.start_verification",
        "entity": "application",
        "entity_id": RECEIPT,
        "data": {"from": "submitted", "to": "verifying", "version": 2, "comment": ""},
    },
]


def _insert(connection: sa.Connection, table: str, **values: Any) -> None:
    """One row by raw SQL, as the first schema's code would have written it."""
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    typed = []
    for name, value in values.items():
        if isinstance(value, datetime):
            value_type: sa.types.TypeEngine[Any] = sa.DateTime()
        elif isinstance(value, date):
            value_type = sa.Date()
        elif isinstance(value, dict):
            value_type = sa.JSON()
        elif isinstance(value, bytes):
            value_type = sa.LargeBinary()
        else:
            continue
        typed.append(sa.bindparam(name, type_=value_type))
    statement = sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})").bindparams(*typed)
    plain = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in values.items()}
    connection.execute(statement, plain)


def write_old_rows(url: str, cipher: PiiCipher, chain: list[dict[str, Any]]) -> None:
    """A season, a family, an application under verification with its evidence, an SMS with
    its pending job, a case record with its pending job, and an audit chain: at 0001."""
    engine = create_engine(to_sync_url(url))
    now = T0 + timedelta(minutes=10)
    try:
        with engine.begin() as c:
            _insert(c, "region", id=1, code="420704", name="临空经济区", level="district")
            _insert(
                c, "region", id=2, code="420704101", name="燕矶镇", level="township", parent_id=1
            )
            _insert(
                c,
                "season",
                id=1,
                code="2026-primary",
                name="2026年小学",
                year=2026,
                stage="primary",
                age_cutoff=date(2020, 8, 31),
                opens_at=T0,
                closes_at=T0 + timedelta(days=30),
                policy={"sms": {}},
            )
            _insert(
                c,
                "school",
                id=1,
                code="LK-YJ-01",
                name="燕矶小学",
                stage="primary",
                public=True,
                township_id=2,
                classes=4,
                class_size=45,
                reserved=0,
            )
            _insert(
                c,
                "child",
                id=1,
                name="张小明",
                id_number_ct=cipher.encrypt("420704202003150012", purpose="child.id_number"),
                id_number_idx=cipher.blind_index("420704202003150012", purpose="child.id_number"),
                birth_date=date(2020, 3, 15),
                male=True,
            )
            _insert(
                c,
                "guardian",
                id=1,
                name="张三",
                id_number_ct=cipher.encrypt("420704198501011233", purpose="guardian.id_number"),
                id_number_idx=cipher.blind_index(
                    "420704198501011233", purpose="guardian.id_number"
                ),
                phone_ct=cipher.encrypt("13812345678", purpose="guardian.phone"),
                phone_idx=cipher.blind_index("13812345678", purpose="guardian.phone"),
                subject="guardian-1",
            )
            _insert(
                c,
                "application",
                id=1,
                receipt_no=RECEIPT,
                query_code_ct=cipher.encrypt("123456", purpose="query_code"),
                query_code_hash=cipher.blind_index("123456", purpose="query_code"),
                query_failures=2,
                season_id=1,
                child_id=1,
                guardian_id=1,
                relationship="father",
                channel="online",
                township_code="420704101",
                address=ADDRESS,
                school_id=1,
                status="verifying",
                version=2,
                created_at=T0,
                updated_at=now,
            )
            _insert(
                c,
                "evidence",
                id=1,
                application_id=1,
                round=1,
                source="hukou",
                subject="child",
                plugin="gongan",
                outcome="match",
                facts=FACTS,
                request_id="req-1",
                source_record_id="HK-1",
                checked_at=now,
            )
            _insert(
                c,
                "message",
                id=7,
                application_id=1,
                template="SUBMITTED",
                params={"receipt_no": RECEIPT},
                phone_ct=cipher.encrypt("13812345678", purpose="message.phone"),
                status="queued",
                attempts=0,
                created_at=now,
            )
            _insert(
                c,
                "case_record",
                id=3,
                application_id=1,
                receipt_no=RECEIPT,
                version=2,
                kind="process",
                payload={"step": "verifying"},
                status="pending",
                attempts=0,
                created_at=now,
            )
            old_jobs = [
                (1, "notify.send", {"message_id": 7}, "pending"),
                (2, "casesync.push", {"case_record_id": 3}, "pending"),
                (3, "notify.send", {"message_id": 7}, "done"),
                (4, "verification.run", {"application_id": 1}, "pending"),
            ]
            for job_id, kind, payload, status in old_jobs:
                _insert(
                    c,
                    "job",
                    id=job_id,
                    kind=kind,
                    payload=payload,
                    idempotency_key=f"old-{job_id}",
                    status=status,
                    attempts=0,
                    max_attempts=6,
                    run_after=now,
                    created_at=now,
                )
            for n, entry in enumerate(chain, start=1):
                _insert(c, "audit_event", id=n, **entry)
    finally:
        engine.dispose()


def test_an_old_database_with_data_upgrades_to_the_new_schema(
    empty_database_url: str, old_settings: Settings
) -> None:
    url = empty_database_url
    upgrade(url, "0001", settings=old_settings)
    assert _tables_and_revision(url)[1] == "0001"
    cipher = PiiCipher(keys.load_key(old_settings, keys.PII_KEY))
    write_old_rows(url, cipher, old_chain(AUDIT))

    upgrade(url, settings=old_settings)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert _tables_and_revision(url)[1] == head
    assert schema_drift(url) == []

    engine = create_engine(to_sync_url(url))
    try:
        with engine.connect() as c:
            columns = {
                t: {x["name"] for x in sa.inspect(c).get_columns(t)}
                for t in ("application", "evidence", "audit_event")
            }
            raw_address = c.execute(sa.text("SELECT address_ct FROM application")).scalar_one()
            raw_facts = c.execute(sa.text("SELECT facts_ct FROM evidence")).scalar_one()
    finally:
        engine.dispose()
    assert "address" not in columns["application"]
    assert "facts" not in columns["evidence"]
    assert {"prev_hash", "hash"}.isdisjoint(columns["audit_event"])
    assert ADDRESS.encode() not in bytes(raw_address)
    assert b"move_in_date" not in bytes(raw_facts)

    runtime = Runtime.create(old_settings)
    try:
        _check_migrated_rows(runtime, cipher)
    finally:
        runtime.db.dispose_here()


def _check_migrated_rows(runtime: Runtime, cipher: PiiCipher) -> None:
    def read(uow: UnitOfWork) -> dict[str, Any]:
        session = uow.session
        return {
            "application": session.exec(select(Application)).one(),
            "evidence": session.exec(select(Evidence)).one(),
            "audit": session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all(),
            "jobs": session.exec(select(Job).order_by(col(Job.id))).all(),
            "message": session.exec(select(Message)).one(),
            "guardian": session.exec(select(Guardian)).one(),
            "season": session.exec(select(Season)).one(),
        }

    rows = runtime.read_here(read)
    application: Application = rows["application"]
    assert cipher.decrypt(application.address_ct, purpose="application.address") == ADDRESS
    assert (application.status, application.version, application.age_exception) == (
        "verifying",
        2,
        None,
    )
    evidence: Evidence = rows["evidence"]
    assert cipher.decrypt_json(evidence.facts_ct, purpose="evidence.facts") == FACTS

    entries: list[AuditEvent] = rows["audit"]
    assert [e.action for e in entries] == [e["action"] for e in AUDIT]
    for entry, old in zip(entries, AUDIT, strict=True):
        assert entry.position is None
        text = old_canonical(old)
        assert entry.leaf_hash == hashlib.sha256(b"\x00" + text.encode()).hexdigest()
        assert audit.canonical(entry) == text  # today's code hashes the very same bytes

    message: Message = rows["message"]
    assert message.key == "legacy:7"
    payloads = {job.id: (job.kind, job.payload, job.status) for job in rows["jobs"]}
    assert payloads == {
        1: ("notify.send", {"message_key": "legacy:7"}, JobStatus.PENDING),
        2: ("casesync.push", {"receipt_no": RECEIPT, "version": 2}, JobStatus.PENDING),
        3: ("notify.send", {"message_id": 7}, JobStatus.DONE),  # finished: left alone
        4: ("verification.run", {"application_id": 1}, JobStatus.PENDING),
    }
    assert all(job.conflicts == 0 for job in rows["jobs"])
    guardian: Guardian = rows["guardian"]
    assert (guardian.subject, guardian.bound_at) == (None, None)  # old bindings not trusted
    season: Season = rows["season"]
    assert (season.earliest_birth, season.age_cutoff) == (date(2019, 9, 1), date(2020, 8, 31))

    signing_key = keys.audit_signing_key(runtime.settings)

    def sequence(uow: UnitOfWork) -> None:
        head = audit.sequence(uow.session, signing_key)
        assert head is not None and head.tree_size == len(AUDIT)
        uow.commit()

    runtime.write_here(sequence)
    public = signing_key.public_key()
    report = runtime.read_here(lambda uow: audit.verify_log(uow.session, public))
    assert report.ok, report
    assert (report.entries, report.heads, report.unsequenced) == (len(AUDIT), 1, 0)


@pytest.mark.parametrize(
    ("damage", "row"),
    [("edited", 2), ("relinked", 3), ("deleted", 2)],
    ids=["edited entry", "wrong previous hash", "deleted entry"],
)
def test_a_broken_old_chain_makes_the_upgrade_fail(
    empty_database_url: str, old_settings: Settings, damage: str, row: int
) -> None:
    url = empty_database_url
    upgrade(url, "0001", settings=old_settings)
    cipher = PiiCipher(keys.load_key(old_settings, keys.PII_KEY))
    chain = old_chain(AUDIT)
    if damage == "edited":  # changed after it was hashed
        chain[1] = {**chain[1], "data": {**chain[1]["data"], "comment": "改"}}
    elif damage == "relinked":
        chain[2] = {**chain[2], "prev_hash": "f" * 64}
    else:  # the row's successor now follows a missing row: ids stay 1..n
        del chain[1]
    write_old_rows(url, cipher, chain)

    with pytest.raises(RuntimeError) as caught:
        upgrade(url, settings=old_settings)
    assert str(caught.value) == (
        f"audit chain broken at row {row}: run `ruxue audit verify` on the old version and "
        "resolve it before migrating"
    )
    tables, revision = _tables_and_revision(url)
    assert revision == "0001", "nothing of 0002 was kept"
    assert "audit_head" not in tables
