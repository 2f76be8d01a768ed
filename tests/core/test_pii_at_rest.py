"""Personal data at rest: no ID or phone number in clear anywhere in the database files or
columns; masking; the cipher's purpose binding and keyed blind index; master key handling."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from ruxue_core.domain.enums import ReviewDecision
from ruxue_core.errors import ConfigurationError, NotFound
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.rules.national_id import make_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.security import (
    PiiCipher,
    load_master_key,
    mask_id_number,
    mask_name,
    mask_phone,
)
from ruxue_core.services.applications import (
    ReviewApplication,
    Submitted,
    lookup_status,
    review_application,
    submit_application,
)
from ruxue_core.settings import Mode, Settings
from ruxue_core.testing.factories import BUREAU, COUNTER, GUARDIAN, submit_command
from ruxue_core.testing.fakes import CapturingNotifier, CapturingNotifierPlugin

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


@dataclass(frozen=True)
class Person:
    child_id: str
    guardian_id: str
    phone: str


PEOPLE = [
    Person(
        make_national_id("420704", date(2019, 9, 1), 11),
        make_national_id("420704", date(1986, 3, 4), 23),
        "13800001111",
    ),
    Person(
        make_national_id("420704", date(2020, 1, 20), 42),
        make_national_id("110105", date(1990, 12, 31), 57),
        "15912345670",
    ),
    Person(
        make_national_id("420702", date(2020, 8, 31), 8),
        make_national_id("420702", date(1979, 7, 7), 36),
        "19987654321",
    ),
]


@pytest.fixture
async def pii_runtime(settings: Settings) -> AsyncIterator[tuple[Runtime, CapturingNotifier]]:
    notifier = CapturingNotifier()
    runtime = Runtime.create(
        settings.model_copy(update={"notifiers": ["fake"]}),
        extra_plugins=[CapturingNotifierPlugin(notifier)],
    )
    try:
        yield runtime, notifier
    finally:
        await runtime.close()


async def populate(runtime: Runtime, season: str) -> list[Submitted]:
    """Applications through every path that writes rows: submit (online and at the counter),
    verification (no verifier: manual review), SMS, case records, a review, failed lookups."""
    submitted = []
    for n, person in enumerate(PEOPLE):
        command = submit_command(
            season, child_id=person.child_id, guardian_id=person.guardian_id, phone=person.phone
        )
        async with runtime.unit_of_work() as uow:
            submitted.append(await submit_application(uow, command, COUNTER if n else GUARDIAN))
    await Worker(runtime, HANDLERS).drain()
    async with runtime.unit_of_work() as uow:
        await review_application(
            uow, ReviewApplication(submitted[0].application_id, ReviewDecision.APPROVE), BUREAU
        )
    await Worker(runtime, HANDLERS).drain()
    async with runtime.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await lookup_status(uow, submitted[1].receipt_no, "000000")
    return submitted


def needles(people: Iterable[Person]) -> dict[str, list[bytes]]:
    """Every personal number (and its distinctive 17-digit body) in every encoding to look for."""
    found: dict[str, list[bytes]] = {}
    for person in people:
        for value in (
            person.child_id,
            person.guardian_id,
            person.child_id[:17],
            person.guardian_id[:17],
            person.phone,
        ):
            found[value] = [value.encode(enc) for enc in ("ascii", "utf-16-le", "utf-16-be")]
    return found


def sqlite_files(database_url: str) -> list[Path]:
    database = make_url(database_url).database
    assert database
    path = Path(database)
    candidates = [path, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return [p for p in candidates if p.exists()]


def scan_bytes(blobs: Iterable[bytes], values: dict[str, list[bytes]]) -> list[str]:
    hits = []
    for blob in blobs:
        for value, encodings in values.items():
            if any(encoded in blob for encoded in encodings):
                hits.append(value)
    return hits


async def every_value(runtime: Runtime) -> list[bytes]:
    """Every value of every column of every table the code knows, as bytes."""
    values: list[bytes] = []
    async with runtime.unit_of_work(read_only=True) as uow:
        connection = await uow.session.connection()
        for table in SQLModel.metadata.sorted_tables:
            for row in (await connection.execute(sa.select(table))).all():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        values.append(bytes(value))
                    elif value is not None:
                        values.append(str(value).encode())
    return values


async def postgres_text(runtime: Runtime) -> list[bytes]:
    """Every text, JSON and bytea column of every table in the schema, cast to text, plus the
    raw bytea values (their text form is hex and would hide a plaintext)."""
    values: list[bytes] = []
    async with runtime.unit_of_work(read_only=True) as uow:
        connection = await uow.session.connection()
        columns = (
            await connection.execute(
                sa.text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND data_type IN "
                    "('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
                )
            )
        ).all()
        assert {c.table_name for c in columns} >= {"guardian", "child", "message", "job"}
        for table, column, data_type in columns:
            rows = await connection.execute(
                sa.text(f'SELECT "{column}"::text, "{column}" FROM "{table}"')
            )
            for as_text, raw in rows.all():
                if as_text is not None:
                    values.append(as_text.encode())
                if data_type == "bytea" and raw is not None:
                    values.append(bytes(raw))
    return values


async def test_no_id_or_phone_number_is_stored_in_clear(
    pii_runtime: tuple[Runtime, CapturingNotifier], season: str
) -> None:
    runtime, notifier = pii_runtime
    submitted = await populate(runtime, season)
    assert len(notifier.sent) >= 2 * len(PEOPLE), "messages were sent, so they exist"
    targets = needles(PEOPLE)
    # Control: the scan finds what is stored in clear (receipt numbers, names).
    controls = {s.receipt_no: [s.receipt_no.encode()] for s in submitted}
    controls["张三"] = ["张三".encode()]

    rows = await every_value(runtime)
    assert scan_bytes(rows, targets) == []
    assert sorted(set(scan_bytes(rows, controls))) == sorted(controls)

    if runtime.db.postgres:
        columns = await postgres_text(runtime)
        assert scan_bytes(columns, targets) == []
        assert sorted(set(scan_bytes(columns, controls))) == sorted(controls)
        return

    files = sqlite_files(runtime.settings.resolved_database_url)
    assert files, "the SQLite database file exists"
    while_open = [p.read_bytes() for p in files]
    assert scan_bytes(while_open, targets) == []
    assert set(scan_bytes(while_open, controls)) == set(controls)
    await runtime.db.dispose()  # checkpoint the WAL into the main file
    after_close = [p.read_bytes() for p in sqlite_files(runtime.settings.resolved_database_url)]
    assert scan_bytes(after_close, targets) == []


async def test_stored_ciphertexts_decrypt_to_the_submitted_numbers(
    pii_runtime: tuple[Runtime, CapturingNotifier], season: str
) -> None:
    runtime, _ = pii_runtime
    await populate(runtime, season)
    async with runtime.unit_of_work(read_only=True) as uow:
        connection = await uow.session.connection()
        children = (await connection.execute(sa.text("SELECT id_number_ct FROM child"))).all()
        guardians = (
            await connection.execute(sa.text("SELECT id_number_ct, phone_ct FROM guardian"))
        ).all()
    cipher = runtime.cipher
    assert {cipher.decrypt(bytes(r[0]), purpose="child.id_number") for r in children} == {
        p.child_id for p in PEOPLE
    }
    assert {cipher.decrypt(bytes(r[0]), purpose="guardian.id_number") for r in guardians} == {
        p.guardian_id for p in PEOPLE
    }
    assert {cipher.decrypt(bytes(r[1]), purpose="guardian.phone") for r in guardians} == {
        p.phone for p in PEOPLE
    }


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
    settings = Settings(mode=Mode.PRODUCTION, data_dir=tmp_path / "prod")
    with pytest.raises(ConfigurationError) as caught:
        load_master_key(settings)
    assert "RUXUE_PII_KEY" in caught.value.message
    with pytest.raises(ConfigurationError):
        Runtime.create(settings)
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
