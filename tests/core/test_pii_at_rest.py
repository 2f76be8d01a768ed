"""Personal data at rest: no ID number, phone number, declared address or verification fact in
clear anywhere in the database files or columns (nor in the audit log); masking; the cipher's
purpose binding and keyed blind index; master key handling."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel, col, select

from ruxue_core import keys
from ruxue_core.audit import canonical
from ruxue_core.domain import AuditEvent
from ruxue_core.domain.enums import Outcome, ReviewDecision, Role, Status
from ruxue_core.errors import ConfigurationError, NotFound
from ruxue_core.handlers import HANDLERS, PERIODIC
from ruxue_core.jobs import Worker
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.security import (
    PiiCipher,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
)
from ruxue_core.services.applications import (
    CorrectApplication,
    ReviewApplication,
    Submitted,
    correct_application,
    review_application,
    submit_application,
)
from ruxue_core.services.guardians import ChangeGuardianPhone, change_guardian_phone
from ruxue_core.services.lookup import lookup_status
from ruxue_core.settings import Mode, Settings
from ruxue_core.testing.factories import (
    BUREAU,
    OTHER_COUNTER,
    SCHOOL_REVIEWER,
    submit_command,
)
from ruxue_core.testing.fakes import (
    CapturingNotifier,
    CapturingNotifierPlugin,
    FactValue,
    FakeVerifier,
    FakeVerifierPlugin,
)
from ruxue_core.uow import UnitOfWork

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def load_master_key(settings: Settings) -> bytes:
    """The PII master key the runtime would use."""
    return keys.load_key(settings, keys.PII_KEY)


@dataclass(frozen=True)
class Person:
    child_id: str
    guardian_id: str
    phone: str
    address: str
    township: str


PEOPLE = [
    Person(
        make_national_id("420704", date(2019, 9, 1), 11),
        make_national_id("420704", date(1986, 3, 4), 23),
        "13800001111",
        "燕矶镇新街幸福里17号",
        "420704101",
    ),
    Person(
        make_national_id("420704", date(2020, 1, 20), 42),
        make_national_id("110105", date(1990, 12, 31), 57),
        "15912345670",
        "杨叶镇团山村八组29号",
        "420704102",
    ),
    Person(
        make_national_id("420702", date(2020, 8, 31), 8),
        make_national_id("420702", date(1979, 7, 7), 36),
        "19987654321",
        "沙窝乡黄山村三组5号",
        "420704103",
    ),
]
CORRECTED_ADDRESS = "沙窝乡黄山村新区6栋2单元"
NEW_PHONES = ("13700002222", "18666663333")
SECOND_CHILD = make_national_id("420704", date(2020, 6, 6), 77)
HUKOU_ADDRESS = "湖北省鄂州市燕矶镇杜山村七组23号"
RELATIONSHIP = "户主之孙（外祖父户）"
FACTS: dict[str, FactValue] = {
    # Personal values in facts the rules pass over: they must still be stored encrypted.
    "household": HUKOU_ADDRESS,
    "unit": RELATIONSHIP,
    "move_in_date": date(2020, 5, 1),
}
PAPER_SEEN = ("hukou_book", "property_certificate")

GUARDIAN_0 = Principal(
    "guardian-a", Role.GUARDIAN, "张三", verified_id_number=PEOPLE[0].guardian_id
)
GUARDIAN_1 = Principal(
    "guardian-b", Role.GUARDIAN, "张三", verified_id_number=PEOPLE[1].guardian_id
)
COUNTER_SW = Principal("counter-3", Role.COUNTER_STAFF, "孙窗口", region_code="420704103")
REVIEWER_SW = Principal("reviewer-sw", Role.SCHOOL_REVIEWER, "郑老师", school_code="LK-SW-01")


@pytest.fixture
async def pii_runtime(settings: Settings) -> AsyncIterator[tuple[Runtime, CapturingNotifier]]:
    notifier = CapturingNotifier()
    runtime = Runtime.create(
        settings.model_copy(update={"notifiers": ["fake"], "verifiers": ["fake"]}),
        extra_plugins=[
            CapturingNotifierPlugin(notifier),
            FakeVerifierPlugin(FakeVerifier(Outcome.MATCH, facts=FACTS)),
        ],
    )
    try:
        yield runtime, notifier
    finally:
        await runtime.close()


async def drain(runtime: Runtime) -> None:
    await Worker(runtime, HANDLERS, periodic=PERIODIC).drain()


async def status_of(runtime: Runtime, submitted: Submitted) -> Status:
    view = await lookup_status(runtime, submitted.receipt_no, submitted.query_code)
    return view.status


async def populate(runtime: Runtime, season: str) -> list[Submitted]:
    """Applications through every path that writes rows: submission online and at the counter
    (with the originals seen), verification through the worker (evidence with facts), SMS,
    case records, reviews, a correction with a new address, phone changes (on their own and
    by a later submission that binds a counter-made guardian), failed lookups, the audit
    sequencer."""
    submitters = (GUARDIAN_0, OTHER_COUNTER, COUNTER_SW)
    submitted = []
    for person, principal in zip(PEOPLE, submitters, strict=True):
        command = submit_command(
            season,
            child_id=person.child_id,
            guardian_id=person.guardian_id,
            phone=person.phone,
            address=person.address,
            township_code=person.township,
        )
        if principal is COUNTER_SW:
            command = replace(command, paper_seen=PAPER_SEEN)
        submitted.append(await submit_application(runtime, command, principal))
    await drain(runtime)
    assert {await status_of(runtime, s) for s in submitted} == {Status.SCHOOL_REVIEW}

    first, _, third = (s.application_id for s in submitted)
    await review_application(
        runtime, ReviewApplication(first, ReviewDecision.APPROVE), SCHOOL_REVIEWER
    )
    await review_application(runtime, ReviewApplication(first, ReviewDecision.APPROVE), BUREAU)
    await review_application(runtime, ReviewApplication(third, ReviewDecision.RETURN), REVIEWER_SW)
    await correct_application(runtime, CorrectApplication(third, CORRECTED_ADDRESS), COUNTER_SW)
    await change_guardian_phone(runtime, ChangeGuardianPhone(NEW_PHONES[0]), GUARDIAN_0)
    second_child = submit_command(
        season,
        child_id=SECOND_CHILD,
        guardian_id=PEOPLE[1].guardian_id,
        phone=NEW_PHONES[1],
        address=PEOPLE[1].address,
        township_code=PEOPLE[1].township,
    )
    submitted.append(await submit_application(runtime, second_child, GUARDIAN_1))
    await drain(runtime)
    assert [await status_of(runtime, s) for s in submitted] == [
        Status.APPROVED,
        Status.SCHOOL_REVIEW,
        Status.SCHOOL_REVIEW,
        Status.SCHOOL_REVIEW,
    ]
    with pytest.raises(NotFound):
        await lookup_status(runtime, submitted[1].receipt_no, "000000")
    return submitted


def encodings(value: str) -> list[bytes]:
    """``value`` as UTF-8, UTF-16 either way round, and as JSON with non-ASCII escaped."""
    escaped = json.dumps(value)[1:-1]
    return [value.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")] + [
        escaped.encode("ascii"),
        escaped.upper().replace("\\U", "\\u").encode("ascii"),
    ]


def secrets() -> list[str]:
    """Every personal value that must never be stored in clear (and distinctive parts)."""
    values: list[str] = [SECOND_CHILD, SECOND_CHILD[:17], *NEW_PHONES]
    for person in PEOPLE:
        values += [
            person.child_id,
            person.guardian_id,
            person.child_id[:17],
            person.guardian_id[:17],
            person.phone,
            person.address,
            person.address[6:],  # what masking hides
        ]
    values += [CORRECTED_ADDRESS, CORRECTED_ADDRESS[6:], HUKOU_ADDRESS, RELATIONSHIP]
    return values


def needles(values: Iterable[str]) -> dict[str, list[bytes]]:
    return {value: encodings(value) for value in values}


def sqlite_files(database_url: str) -> list[Path]:
    database = make_url(database_url).database
    assert database
    path = Path(database)
    candidates = [path, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return [p for p in candidates if p.exists()]


def scan_bytes(blobs: Iterable[bytes], values: Mapping[str, list[bytes]]) -> list[str]:
    hits = []
    for blob in blobs:
        for value, encoded in values.items():
            if any(form in blob for form in encoded):
                hits.append(value)
    return hits


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return None if value is None else str(value).encode()


async def every_value(runtime: Runtime) -> list[bytes]:
    """Every value of every column of every table the code knows, as bytes."""

    def read(uow: UnitOfWork) -> list[bytes]:
        values: list[bytes] = []
        for table in SQLModel.metadata.sorted_tables:
            for row in uow.session.execute(sa.select(table)).all():
                values += [b for b in map(_as_bytes, row) if b is not None]
        return values

    return await runtime.read(read)


async def postgres_text(runtime: Runtime) -> list[bytes]:
    """Every text, JSON and bytea column of every table in the schema, cast to text, plus the
    raw bytea values (their text form is hex and would hide a plaintext)."""

    def read(uow: UnitOfWork) -> list[bytes]:
        values: list[bytes] = []
        columns = uow.session.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type IN "
                "('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
            )
        ).all()
        tables = {c.table_name for c in columns}
        assert tables >= {"guardian", "child", "application", "evidence", "audit_event"}
        assert tables >= {"message", "job", "case_record", "query_guard"}
        for table, column, data_type in columns:
            rows = uow.session.execute(
                sa.text(f'SELECT "{column}"::text, "{column}" FROM "{table}"')
            )
            for as_text, raw in rows.all():
                if as_text is not None:
                    values.append(as_text.encode())
                if data_type == "bytea" and raw is not None:
                    values.append(bytes(raw))
        return values

    return await runtime.read(read)


def controls(submitted: list[Submitted]) -> dict[str, list[bytes]]:
    """Values stored in clear on purpose: the scans must find them (or they prove nothing).
    The originals seen are stored only inside the audit log's JSON."""
    return needles([s.receipt_no for s in submitted] + ["张三", PAPER_SEEN[0]])


async def test_no_personal_value_is_stored_in_clear(
    pii_runtime: tuple[Runtime, CapturingNotifier], season: str
) -> None:
    runtime, notifier = pii_runtime
    submitted = await populate(runtime, season)
    assert len(notifier.sent) >= 2 * len(PEOPLE), "messages were sent, so they exist"
    targets = needles(secrets())
    expected = controls(submitted)

    rows = await every_value(runtime)
    assert scan_bytes(rows, targets) == []
    assert sorted(set(scan_bytes(rows, expected))) == sorted(expected)

    if runtime.db.postgres:
        columns = await postgres_text(runtime)
        assert scan_bytes(columns, targets) == []
        assert sorted(set(scan_bytes(columns, expected))) == sorted(expected)
        return

    files = sqlite_files(runtime.settings.resolved_database_url)
    assert files, "the SQLite database file exists"
    while_open = [p.read_bytes() for p in files]
    assert scan_bytes(while_open, targets) == []
    assert set(scan_bytes(while_open, expected)) == set(expected)
    await runtime.db.dispose()  # checkpoint the WAL into the main file
    after_close = [p.read_bytes() for p in sqlite_files(runtime.settings.resolved_database_url)]
    assert scan_bytes(after_close, targets) == []
    assert set(scan_bytes(after_close, expected)) == set(expected)


async def test_the_audit_log_holds_no_personal_value(
    pii_runtime: tuple[Runtime, CapturingNotifier], season: str
) -> None:
    runtime, _ = pii_runtime
    await populate(runtime, season)

    def read(uow: UnitOfWork) -> list[AuditEvent]:
        return list(uow.session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())

    events = await runtime.read(read)
    actions = {e.action for e in events}
    assert actions >= {
        "guardian.create",
        "guardian.bind",
        "guardian.phone_change",
        "application.submit",
        "application.paper_seen",
        "application.correct",
        "application.approve",
    }
    assert any(e.position is not None for e in events), "the sequencer ran"
    texts = [
        form.encode()
        for e in events
        for form in (canonical(e), json.dumps(e.data), e.entity_id, e.actor)
    ]
    assert scan_bytes(texts, needles(secrets())) == []
    changes = [e.data for e in events if e.action == "guardian.phone_change"]
    assert sorted(change["phone"] for change in changes) == sorted(map(mask_phone, NEW_PHONES))


async def test_stored_ciphertexts_decrypt_to_the_submitted_values(
    pii_runtime: tuple[Runtime, CapturingNotifier], season: str
) -> None:
    runtime, _ = pii_runtime
    await populate(runtime, season)

    def read(uow: UnitOfWork) -> dict[str, list[bytes]]:
        def column(sql: str) -> list[bytes]:
            return [bytes(v) for v in uow.session.execute(sa.text(sql)).scalars().all()]

        return {
            "child": column("SELECT id_number_ct FROM child"),
            "guardian": column("SELECT id_number_ct FROM guardian"),
            "phone": column("SELECT phone_ct FROM guardian"),
            "address": column("SELECT address_ct FROM application"),
            "facts": column("SELECT facts_ct FROM evidence"),
        }

    stored = await runtime.read(read)
    cipher = runtime.cipher
    assert {cipher.decrypt(b, purpose="child.id_number") for b in stored["child"]} == {
        *(p.child_id for p in PEOPLE),
        SECOND_CHILD,
    }
    assert {cipher.decrypt(b, purpose="guardian.id_number") for b in stored["guardian"]} == {
        p.guardian_id for p in PEOPLE
    }
    assert {cipher.decrypt(b, purpose="guardian.phone") for b in stored["phone"]} == {
        NEW_PHONES[0],
        NEW_PHONES[1],
        PEOPLE[2].phone,
    }
    assert {cipher.decrypt(b, purpose="application.address") for b in stored["address"]} == {
        PEOPLE[0].address,
        PEOPLE[1].address,
        CORRECTED_ADDRESS,
    }
    facts = [cipher.decrypt_json(b, purpose="evidence.facts") for b in stored["facts"]]
    assert len(facts) == 5 * 5, "four applications, one of them verified twice; five checks"
    assert all(
        (f["household"], f["unit"], f["move_in_date"])
        == (HUKOU_ADDRESS, RELATIONSHIP, "2020-05-01")
        for f in facts
    )


# ---- masking --------------------------------------------------------------------------------


def test_masking_examples() -> None:
    assert mask_id_number("420704201806151231") == "4207**********1231"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张小明") == "张**"
    assert mask_name("李") == "李"
    assert mask_name("") == ""
    assert mask_id_number("12345678") == "********"
    assert mask_phone("1234567") == "*******"
    assert mask_address("燕矶镇新街幸福里17号") == "燕矶镇新街幸****"
    assert mask_address("燕矶镇新街") == "****"


@given(st.text(alphabet="0123456789X", min_size=0, max_size=30))
def test_masked_id_keeps_length_and_shows_at_most_eight_characters(value: str) -> None:
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    shown = [c for c, original in zip(masked, value, strict=True) if c == original and c != "*"]
    assert len(shown) <= 8
    if len(value) > 8:
        assert masked[:4] == value[:4]
        assert masked[-4:] == value[-4:]
        assert set(masked[4:-4]) == {"*"}


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_phone_hides_the_middle(value: str) -> None:
    masked = mask_phone(value)
    assert masked == value[:3] + "****" + value[-4:]
    assert value not in masked


# ---- the cipher -----------------------------------------------------------------------------


def test_decrypting_with_the_wrong_purpose_fails() -> None:
    cipher = PiiCipher(KEY_A)
    blob = cipher.encrypt("420704201806151231", purpose="child.id_number")
    assert cipher.decrypt(blob, purpose="child.id_number") == "420704201806151231"
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, purpose="guardian.id_number")
    with pytest.raises(InvalidTag):
        PiiCipher(KEY_B).decrypt(blob, purpose="child.id_number")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidTag):
        cipher.decrypt(tampered, purpose="child.id_number")


def test_encryption_is_randomised_and_hides_the_plaintext() -> None:
    cipher = PiiCipher(KEY_A)
    first = cipher.encrypt("13812345678", purpose="guardian.phone")
    second = cipher.encrypt("13812345678", purpose="guardian.phone")
    assert first != second
    assert b"13812345678" not in first
    assert cipher.decrypt(first, purpose="guardian.phone") == cipher.decrypt(
        second, purpose="guardian.phone"
    )


def test_blind_index_is_stable_and_keyed() -> None:
    a, a_again, b = PiiCipher(KEY_A), PiiCipher(KEY_A), PiiCipher(KEY_B)
    value = "420704201806151231"
    index = a.blind_index(value, purpose="child.id_number")
    assert index == a.blind_index(value, purpose="child.id_number")
    assert index == a_again.blind_index(value, purpose="child.id_number")
    assert index != b.blind_index(value, purpose="child.id_number")
    assert index != a.blind_index(value, purpose="guardian.id_number")
    assert index != a.blind_index("420704201806151240", purpose="child.id_number")
    assert value not in index
    assert a.matches(value, index, purpose="child.id_number")
    assert not b.matches(value, index, purpose="child.id_number")


def test_master_key_must_be_32_bytes() -> None:
    for size in (0, 16, 31, 33, 64):
        with pytest.raises(ConfigurationError):
            PiiCipher(bytes(size))


# ---- the master key -------------------------------------------------------------------------


def test_embedded_mode_generates_a_private_key_file_once(tmp_path: Path) -> None:
    settings = Settings(mode=Mode.EMBEDDED, data_dir=tmp_path / "fresh" / "var")
    assert settings.pii_key is None
    key = load_master_key(settings)
    path = settings.data_dir / "pii.key"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert load_master_key(settings) == key, "the second start reuses the file"
    other = load_master_key(Settings(mode=Mode.EMBEDDED, data_dir=tmp_path / "other"))
    assert other != key, "each installation gets its own random key"
    # A value encrypted by one process is readable by the next one on the same data dir.
    blob = PiiCipher(key).encrypt("13812345678", purpose="guardian.phone")
    assert PiiCipher(load_master_key(settings)).decrypt(blob, purpose="guardian.phone")


def test_production_mode_without_a_key_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUXUE_PII_KEY", raising=False)
    for other in (keys.SESSION_SECRET, keys.AUDIT_SIGNING_KEY):
        monkeypatch.setenv(other.variable, keys.new_key())
    settings = Settings(
        mode=Mode.PRODUCTION,
        data_dir=tmp_path / "prod",
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_master_key(settings)
    assert "RUXUE_PII_KEY" in caught.value.message
    with pytest.raises(ConfigurationError) as at_start:
        Runtime.create(settings)
    assert "RUXUE_PII_KEY" in at_start.value.message
    assert not (settings.data_dir / "pii.key").exists(), "no key file is made in production"


def test_production_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("RUXUE_PII_KEY", base64.b64encode(key).decode())
    settings = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path / "prod")
    assert load_master_key(settings) == key
    assert not (settings.data_dir / "pii.key").exists()


@pytest.mark.parametrize(
    "value",
    ["not base64!", base64.b64encode(bytes(16)).decode(), base64.b64encode(bytes(40)).decode()],
    ids=["not base64", "16 bytes", "40 bytes"],
)
def test_a_malformed_key_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RUXUE_PII_KEY", value)
    settings = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path / "prod")
    with pytest.raises(ConfigurationError):
        PiiCipher(load_master_key(settings))
