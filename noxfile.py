"""Development sessions: tests, lint, typecheck, schema, docs, demo, bench, fuzz.

Every session installs the workspace's distributions in editable mode into its own venv.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
DISTRIBUTIONS = (
    "core[testing]",
    "gateway[embedded]",
    "contrib/sandbox",
    "plugins/verifiers/gongan",
    "plugins/verifiers/ziranziyuan",
    "plugins/verifiers/renshe",
    "contrib/verifier-template",
    "plugins/notifiers/devlog",
    "plugins/notifiers/aliyun",
    "plugins/notifiers/tencent",
    "contrib/notifier-template",
    "plugins/platforms/hubei",
)
PACKAGES = (
    "ruxue_core",
    "ruxue_gateway",
    "ruxue_sandbox",
    "ruxue_verifier_gongan",
    "ruxue_verifier_ziranziyuan",
    "ruxue_verifier_renshe",
    "ruxue_verifier_template",
    "ruxue_notifier_devlog",
    "ruxue_notifier_aliyun",
    "ruxue_notifier_tencent",
    "ruxue_notifier_govsms",
    "ruxue_platform_hubei",
)
PYPROJECT = nox.project.load_toml("pyproject.toml")
DEV = nox.project.dependency_groups(PYPROJECT, "dev")


def install_workspace(session: nox.Session, *extra: str) -> None:
    """Install every distribution editable, plus the development tools."""
    editable = [arg for dist in DISTRIBUTIONS for arg in ("-e", dist)]
    session.install(*editable, *DEV, *extra)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The test suite (SQLite; PostgreSQL too when RUXUE_TEST_DATABASE_URL is set)."""
    install_workspace(session)
    session.run("pytest", *(session.posargs or ["-q", "--ignore=tests/bench"]))


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff lint and format check over everything; import-linter's layering contracts."""
    install_workspace(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Write the generated references (docs/lifecycle.md, docs/hooks.md); commit them."""
    install_workspace(session)
    session.run("python", "-m", "ruxue_core.reference", str(ROOT / "docs"))


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every distribution, the tests and this file."""
    install_workspace(session)
    session.run("mypy", "--strict", *(arg for pkg in PACKAGES for arg in ("-p", pkg)))
    session.run("mypy", "--strict", "tests", "contrib/verifier-template/tests", "noxfile.py")


@nox.session(python="3.11")
def schema(session: nox.Session) -> None:
    """Write tests/schema.graphql from the code (commit it; the tests fail on drift)."""
    install_workspace(session)
    session.run(
        "strawberry",
        "export-schema",
        "ruxue_gateway.schema:schema",
        "--output",
        str(ROOT / "tests" / "schema.graphql"),
    )


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """`ruxue demo`: a season end to end on a fresh SQLite file (pass options after --)."""
    install_workspace(session)
    session.run("ruxue", "demo", *(session.posargs or ["--json", "demo-summary.json"]))


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and side-by-side ratios (never pass/fail on time)."""
    install_workspace(session)
    session.run("pytest", "tests/bench", "-q", "-s", *session.posargs)


@nox.session(python="3.11")
def fuzz(session: nox.Session) -> None:
    """schemathesis against the GraphQL endpoint, positive and negative, as every role:
    N (default 2000) generated requests per role and mode; prints the counts per role."""
    install_workspace(session)
    session.run(
        "pytest",
        "tests/fuzz",
        "-q",
        "-s",
        *session.posargs,
        env={"RUXUE_FUZZ_EXAMPLES": os.environ.get("N", "2000")},
    )
