"""The ``ruxue`` command: migrate, token, season load, staff accounts, and the audit log's
verify (tamper detection, published heads) and prove (checked by the stand-alone script)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ruxue_core import audit, keys
from ruxue_core.domain.enums import Role
from ruxue_core.errors import InvalidCredentials
from ruxue_core.plugins.builtin import DevIdentityProvider
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.staff import StaffSession, sign_in
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID, submit_command
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.cli import app

ROOT = Path(__file__).resolve().parents[2]
SEASONS_DIR = ROOT / "contrib" / "seasons"
VERIFY_PROOF = ROOT / "contrib" / "audit" / "verify_proof.py"
PASSWORD = "correct horse battery"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI's own ``Settings()`` at the test database and data dir."""
    assert settings.database_url is not None
    monkeypatch.setenv("RUXUE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RUXUE_DATA_DIR", str(settings.data_dir))
    return settings


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def authenticate(token: str) -> Principal | None:
    """What the dev identity provider (with the CLI's settings) makes of ``token``."""
    return asyncio.run(DevIdentityProvider(Settings()).authenticate(f"Bearer {token}"))


def test_migrate_is_idempotent(cli_env: Settings) -> None:
    code, output = run("migrate")
    assert code == 0, output
    assert "migrated" in output


def test_token_is_accepted_by_the_dev_identity_provider(cli_env: Settings) -> None:
    code, output = run("token", "--role", "school_reviewer", "--school", "LK-YJ-01")
    assert code == 0, output
    principal = authenticate(output.strip())
    assert principal is not None
    assert principal.role == "school_reviewer"
    assert principal.school_code == "LK-YJ-01"

    code, output = run("token", "--role", "counter_staff", "--region", "420704101")
    assert code == 0, output
    counter = authenticate(output.strip())
    assert counter is not None
    assert (counter.role, counter.region_code) == (Role.COUNTER_STAFF, "420704101")


def test_guardian_token_carries_the_verified_id_number(cli_env: Settings) -> None:
    code, output = run("token", "--role", "guardian", "--name", "张三", "--id-number", GUARDIAN_ID)
    assert code == 0, output
    assert GUARDIAN_ID not in output  # the ID number is signed into the token, not shown
    principal = authenticate(output.strip())
    assert principal is not None
    assert principal.role is Role.GUARDIAN
    assert (principal.name, principal.verified_id_number) == ("张三", GUARDIAN_ID)

    code, output = run("token", "--role", "guardian")
    assert code == 0, output
    unverified = authenticate(output.strip())
    assert unverified is not None
    assert unverified.verified_id_number is None


def test_token_is_refused_in_production(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUXUE_MODE", "production")
    code, output = run("token", "--role", "bureau_officer")
    assert code == 2
    assert "configuration" in output
    assert "开发令牌仅用于嵌入式开发模式" in output
    assert "dev." not in output


def test_season_load_rejects_a_bad_file(cli_env: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[season]\ncode = "X"\n', encoding="utf-8")
    code, output = run("season", "load", str(bad))
    assert code == 2
    assert "invalid_input" in output
    code, output = run("season", "load", str(SEASONS_DIR / "linkong-2026-primary.toml"))
    assert code == 0, output


# -- staff accounts ---------------------------------------------------------------------------


def try_sign_in(settings: Settings, username: str, password: str) -> StaffSession | None:
    """Sign in through the core; ``None`` when the credentials are refused."""

    async def attempt() -> StaffSession | None:
        runtime = Runtime.create(settings)
        try:
            return await sign_in(runtime, username, password)
        except InvalidCredentials:
            return None
        finally:
            await runtime.close()

    return asyncio.run(attempt())


def add_counter(*extra: str, username: str = "zhao", password: str = PASSWORD) -> tuple[int, str]:
    return run(
        "staff",
        "add",
        username,
        "--role",
        "counter_staff",
        "--name",
        "赵窗口",
        *extra,
        "--password-stdin",
        stdin=password + "\n",
    )


def test_staff_add_disable_and_reset(seeded_settings: Settings, cli_env: Settings) -> None:
    code, output = add_counter("--region", "420704101")
    assert code == 0, output
    assert PASSWORD not in output
    session = try_sign_in(seeded_settings, "zhao", PASSWORD)
    assert session is not None
    assert (session.role, session.region_code) == (Role.COUNTER_STAFF, "420704101")

    code, output = run("staff", "disable", "zhao")
    assert code == 0, output
    assert try_sign_in(seeded_settings, "zhao", PASSWORD) is None

    code, output = run("staff", "reset", "zhao")
    assert code == 0, output
    new_password = output.rsplit(":", 1)[1].strip()
    assert len(new_password) >= 12
    assert try_sign_in(seeded_settings, "zhao", PASSWORD) is None
    assert try_sign_in(seeded_settings, "zhao", new_password) is not None  # re-enabled


@pytest.mark.parametrize(
    ("extra", "password"),
    [
        ((), PASSWORD),  # counter staff without a township
        (("--region", "999999999"), PASSWORD),  # no such township
        (("--region", "420704101", "--school", "LK-YJ-01"), PASSWORD),  # a scope too many
        (("--region", "420704101"), "short"),
    ],
    ids=["no-township", "unknown-township", "two-scopes", "short-password"],
)
def test_staff_add_refuses_bad_accounts(
    seeded_settings: Settings, cli_env: Settings, extra: tuple[str, ...], password: str
) -> None:
    code, output = add_counter(*extra, password=password)
    assert code == 2, output
    assert "invalid_input" in output
    assert try_sign_in(seeded_settings, "zhao", password) is None


def test_staff_names_are_unique_and_must_exist(
    seeded_settings: Settings, cli_env: Settings
) -> None:
    assert add_counter("--region", "420704101")[0] == 0
    code, output = add_counter("--region", "420704102", password="another long password")
    assert code == 2
    assert "duplicate" in output
    for command in ("disable", "reset"):
        code, output = run("staff", command, "nobody")
        assert code == 2, command
        assert "not_found" in output


# -- the audit log --------------------------------------------------------------------------


def submit_and_sequence(settings: Settings) -> str:
    """Submit one application, run the audit sequencer once; return the receipt number."""

    def sequence(uow: UnitOfWork) -> None:
        assert audit.sequence(uow.session, keys.audit_signing_key(uow.settings)) is not None
        uow.commit()

    async def work() -> str:
        runtime = Runtime.create(settings)
        try:
            submitted = await submit_application(runtime, submit_command("2026-primary"), GUARDIAN)
            await runtime.write(sequence)
            return submitted.receipt_no
        finally:
            await runtime.close()

    return asyncio.run(work())


def change_database(settings: Settings, *statements: str) -> None:
    """Run SQL behind the application's back, as someone with database access could."""
    assert settings.database_url is not None
    engine = sa.create_engine(settings.database_url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    engine.dispose()


NEWEST_EVENT = "(SELECT MAX(id) FROM audit_event)"


@pytest.mark.parametrize(
    "tampering",
    [
        f'UPDATE audit_event SET data = \'{{"to": "approved"}}\' WHERE id = {NEWEST_EVENT}',
        f"UPDATE audit_event SET actor = 'mallory' WHERE id = {NEWEST_EVENT}",
    ],
    ids=["data", "actor"],
)
def test_audit_verify_detects_a_tampered_row(
    seeded_settings: Settings, cli_env: Settings, tampering: str
) -> None:
    submit_and_sequence(seeded_settings)
    code, output = run("audit", "verify")
    assert code == 0, output
    assert "intact" in output
    assert "1 个签名树头" in output
    assert "0 条待排序" in output

    change_database(seeded_settings, tampering)
    code, output = run("audit", "verify")
    assert code == 1, output
    assert "broken" in output


def test_a_published_head_reveals_deleted_entries(
    seeded_settings: Settings, cli_env: Settings, tmp_path: Path
) -> None:
    code, output = run("audit", "head")
    assert code == 1  # nothing signed yet
    assert "no signed head" in output

    submit_and_sequence(seeded_settings)
    published = tmp_path / "head.json"
    code, output = run("audit", "head", "--output", str(published))
    assert code == 0, output
    head = json.loads(published.read_text(encoding="utf-8"))
    assert head["tree_size"] > 0
    assert set(head) >= {"tree_size", "root_hash", "signed_at", "signature", "public_key"}
    code, output = run("audit", "verify", "--head", str(published))
    assert code == 0, output

    # Drop the newest entry and every head that covered it: the log alone looks whole...
    change_database(
        seeded_settings,
        f"DELETE FROM audit_event WHERE id = {NEWEST_EVENT}",
        "DELETE FROM audit_head",
    )
    code, output = run("audit", "verify")
    assert code == 0, output
    # ...but not against the head published before the deletion.
    code, output = run("audit", "verify", "--head", str(published))
    assert code == 1, output
    assert "broken" in output


def verify_proof(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY_PROOF), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_audit_prove_is_checked_by_the_stand_alone_script(
    seeded_settings: Settings, cli_env: Settings, tmp_path: Path
) -> None:
    receipt_no = submit_and_sequence(seeded_settings)
    proof = tmp_path / "proof.json"
    code, output = run("audit", "prove", receipt_no, "--output", str(proof))
    assert code == 0, output
    document = json.loads(proof.read_text(encoding="utf-8"))
    assert document["entries"]
    assert all(receipt_no in entry["leaf"] for entry in document["entries"])
    checked = verify_proof(proof)
    assert checked.returncode == 0, checked.stdout
    assert "全部通过 (all verified)" in checked.stdout

    original = document["entries"][0]["leaf"]
    document["entries"][0]["leaf"] = original.replace('"to":"submitted"', '"to":"approved"')
    assert document["entries"][0]["leaf"] != original
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    refused = verify_proof(forged)
    assert refused.returncode == 1, refused.stdout
    assert "FAILED" in refused.stdout


def test_audit_verify_refuses_a_malformed_head_file(cli_env: Settings, tmp_path: Path) -> None:
    """A head file that is not JSON, or lacks a field, is refused with exit 2 and a message."""
    for content in ("not json", '{"tree_size": 1}'):
        head = tmp_path / "head.json"
        head.write_text(content, encoding="utf-8")
        code, output = run("audit", "verify", "--head", str(head))
        assert code == 2, output
        assert "树头文件" in output


def test_audit_prove_an_unknown_receipt_exits_1(cli_env: Settings) -> None:
    code, output = run("audit", "prove", "42070420261130888042458")
    assert code == 1, output


def test_token_refuses_an_invalid_id_number(cli_env: Settings) -> None:
    code, output = run("token", "--role", "guardian", "--id-number", "420704198606060446")
    assert code == 2
    assert "校验位" in output
