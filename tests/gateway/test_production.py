"""Production mode, end to end over HTTP against `ruxue serve` in its own process.

A wrong configuration is refused at start with a message naming the setting; a right one serves
staff who sign in with a password, treats a garbage ``Authorization`` header as anonymous (never
a 500), refuses introspection, names a misspelt field in its validation error, and refuses a
5 MB body with 413 before parsing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, Final

import httpx
import pytest
import uvicorn
from server_start import free_port, wait_until_up
from typer.testing import CliRunner

from ruxue_core.keys import new_key
from ruxue_gateway.cli import app

pytestmark = pytest.mark.slow

RUXUE: Final = [sys.executable, "-m", "ruxue_gateway"]
PASSWORD: Final = "correct horse battery staple"


@pytest.fixture(scope="module")
def production_env(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """A complete production environment on the test database (no other RUXUE_* leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUXUE_")}
    env |= {
        "RUXUE_MODE": "production",
        "RUXUE_DATABASE_URL": module_database_url,
        "RUXUE_DATA_DIR": str(tmp_path_factory.mktemp("production") / "var"),
        "RUXUE_UPLOADS__STORAGE_DIR": str(tmp_path_factory.mktemp("materials")),
        "RUXUE_PII_KEY": new_key(),
        "RUXUE_SESSION_SECRET": new_key(),
        "RUXUE_AUDIT_SIGNING_KEY": new_key(),
        "RUXUE_VERIFIERS": "[]",
        "RUXUE_NOTIFIERS": "[]",
        "PYTHONUNBUFFERED": "1",
    }
    return env


def _ruxue(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUXUE, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"RUXUE_DATABASE_URL": None}, "RUXUE_DATABASE_URL"),
        ({"RUXUE_PII_KEY": None}, "RUXUE_PII_KEY"),
        ({"RUXUE_SESSION_SECRET": None}, "RUXUE_SESSION_SECRET"),
        ({"RUXUE_AUDIT_SIGNING_KEY": None}, "RUXUE_AUDIT_SIGNING_KEY"),
        ({"RUXUE_UPLOADS__STORAGE_DIR": None}, "RUXUE_UPLOADS__STORAGE_DIR"),
        ({"RUXUE_PII_KEY": "dG9vIHNob3J0"}, "RUXUE_PII_KEY"),
        ({"RUXUE_IDENTITY_PROVIDERS": "[]"}, "RUXUE_IDENTITY_PROVIDERS"),
        ({"RUXUE_IDENTITY_PROVIDERS": '["dev"]'}, "RUXUE_IDENTITY_PROVIDERS"),
        ({"RUXUE_VERIFIERS": '["no-such-verifier"]'}, "RUXUE_VERIFIERS"),
        ({"RUXUE_NOTIFIERS": '["no-such-vendor"]'}, "RUXUE_NOTIFIERS"),
    ],
)
def test_a_wrong_configuration_is_refused_at_start(
    production_env: dict[str, str],
    change: dict[str, str | None],
    named: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ruxue serve` (run in-process here) exits 2 naming the setting, before serving."""

    def must_not_serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("served despite a wrong configuration")

    monkeypatch.setattr(uvicorn, "run", must_not_serve)
    for key in [k for k in os.environ if k.startswith("RUXUE_")]:
        monkeypatch.delenv(key)
    env = {k: v for k, v in production_env.items() if k.startswith("RUXUE_")}
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    result = CliRunner().invoke(app, ["serve", "--port", "0"], env=env)
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_the_real_command_refuses_too(production_env: dict[str, str]) -> None:
    """The same refusal from the installed command in its own process: exit 2, no traceback."""
    env = {k: v for k, v in production_env.items() if k != "RUXUE_PII_KEY"}
    result = _ruxue(env, "serve", "--port", str(free_port()))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "RUXUE_PII_KEY" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_dev_tokens_do_not_exist_in_production(
    production_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("RUXUE_")]:
        monkeypatch.delenv(key)
    env = {k: v for k, v in production_env.items() if k.startswith("RUXUE_")}
    result = CliRunner().invoke(app, ["token", "--role", "bureau_officer"], env=env)
    assert result.exit_code == 2
    assert "dev." not in result.output


def _invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    """Run a `ruxue` command in this process (the same code as the installed command)."""
    ruxue_only = {k: v for k, v in env.items() if k.startswith("RUXUE_")}
    result = CliRunner().invoke(app, list(args), env=ruxue_only, input=stdin)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def production_server(production_env: dict[str, str]) -> Iterator[str]:
    """`ruxue migrate`, two staff accounts, then `ruxue serve` on a free loopback port."""
    _invoke(production_env, "migrate")
    for username, role, name in (
        ("wang", "bureau_officer", "王科长"),
        ("liwei", "auditor", "李审计"),
    ):
        _invoke(
            production_env,
            "staff",
            "add",
            username,
            "--role",
            role,
            "--name",
            name,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    port = free_port()
    process = subprocess.Popen(
        [*RUXUE, "serve", "--port", str(port)],
        env=production_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:  # what the server printed is shown below, once it has stopped
        yield wait_until_up(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
        assert "Traceback" not in output, output


def _post(url: str, body: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/graphql", json=body, headers=headers, timeout=30)


SIGN_IN: Final = """
mutation SignIn($input: StaffSignInInput!) {
  staffSignIn(input: $input) {
    __typename
    ... on StaffSession { token role }
    ... on Error { code message }
  }
}"""


def test_staff_sign_in_and_the_api_conventions(production_server: str) -> None:
    url = production_server
    wrong = _post(
        url, {"query": SIGN_IN, "variables": {"input": {"username": "wang", "password": "nope"}}}
    )
    assert wrong.json()["data"]["staffSignIn"]["__typename"] == "InvalidCredentialsError"

    signed = _post(
        url, {"query": SIGN_IN, "variables": {"input": {"username": "wang", "password": PASSWORD}}}
    )
    session = signed.json()["data"]["staffSignIn"]
    assert session["__typename"] == "StaffSession"
    assert session["role"] == "BUREAU_OFFICER"
    viewer = _post(url, {"query": "{ viewer { id role } }"}, session["token"]).json()
    assert viewer == {"data": {"viewer": {"id": "staff:wang", "role": "bureau_officer"}}}

    for garbage in ("garbage", "dev.eyJ.eyJ.x", "stf." + "A" * 300, session["token"][:-4] + "AAAA"):
        response = _post(url, {"query": "{ viewer { id } }"}, garbage)
        assert response.status_code == 200
        assert response.json() == {"data": {"viewer": None}}

    introspection = _post(url, {"query": "{ __schema { types { name } } }"}).json()
    assert introspection.get("data") is None
    assert "introspection" in str(introspection["errors"]).lower()

    misspelt = _post(url, {"query": "{ viewr { id } }"}).json()
    assert "viewr" in misspelt["errors"][0]["message"]
    assert "服务器内部错误" not in str(misspelt)

    tokens = "{ viewer { " + "id " * 2500 + "} }"
    assert "tokens" in str(_post(url, {"query": tokens}).json()["errors"]).lower()

    aliases = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(20)) + " }"
    assert "alias" in str(_post(url, {"query": aliases}).json()["errors"]).lower()

    assert "graphiql" not in httpx.get(f"{url}/graphql", timeout=10).text.lower()

    signed_out = _post(url, {"query": "mutation { staffSignOut { __typename } }"}, session["token"])
    assert signed_out.json()["data"]["staffSignOut"]["__typename"] == "StaffSignedOut"
    after = _post(url, {"query": "{ viewer { id } }"}, session["token"]).json()
    assert after == {"data": {"viewer": None}}


def test_a_large_body_is_refused_before_parsing(production_server: str) -> None:
    url = production_server
    huge = b'{"query": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    response = httpx.post(
        f"{url}/graphql", content=huge, headers={"content-type": "application/json"}, timeout=30
    )
    assert response.status_code == 413
    long_document = "{ viewer { id } }" + " " * 30_000
    assert _post(url, {"query": long_document}).status_code == 413
    # The server still answers small requests at once.
    assert _post(url, {"query": "{ viewer { id } }"}).json() == {"data": {"viewer": None}}


def test_repeated_wrong_passwords_lock_the_account(production_server: str) -> None:
    url = production_server
    for _ in range(5):
        body = {"query": SIGN_IN, "variables": {"input": {"username": "liwei", "password": "x"}}}
        _post(url, body)
    right = {"query": SIGN_IN, "variables": {"input": {"username": "liwei", "password": PASSWORD}}}
    locked = _post(url, right).json()["data"]["staffSignIn"]
    assert locked["__typename"] == "InvalidCredentialsError"
    unknown = {"query": SIGN_IN, "variables": {"input": {"username": "nobody", "password": "x"}}}
    assert _post(url, unknown).json()["data"]["staffSignIn"] == locked
