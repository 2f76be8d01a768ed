"""Development sessions: tests, lint, typecheck, schema, docs, demo, bench, fuzz.

Every session installs the workspace's distributions in editable mode into its own venv.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
WEB = ROOT / "contrib" / "web"
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


def build_web(session: nox.Session, *, required: bool) -> bool:
    """Build the reference web client (contrib/web/dist), which `ruxue serve` then serves at /.

    Needs Node.js >= 20 with npm; without them the client is skipped (or, if required, the
    session fails). Operations are type-checked against tests/schema.graphql on the way.
    """
    if shutil.which("npm") is None:
        if required:
            session.error("contrib/web needs Node.js >= 20 and npm")
        session.warn("npm not found: the web client is not built (the API works without it)")
        return False
    with session.chdir(WEB):
        if required or not (WEB / "node_modules").is_dir():
            session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
        session.run("npm", "run", "build", external=True)
    return True


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """`ruxue demo`: a season end to end on a fresh SQLite file (pass options after --); builds
    the web client too when npm is present, for `nox -s serve`."""
    install_workspace(session)
    build_web(session, required=False)
    session.run("ruxue", "demo", *(session.posargs or ["--json", "demo-summary.json"]))
    session.log("open the system in a browser: nox -s serve  ->  http://127.0.0.1:8000/")


@nox.session(python="3.11")
def serve(session: nox.Session) -> None:
    """`ruxue serve` in embedded mode on a fresh var/web with the sample season open, demo staff
    accounts and the sandbox's guardians, serving the web client at http://127.0.0.1:8000/."""
    install_workspace(session)
    build_web(session, required=False)
    port = session.posargs[0] if session.posargs else "8000"
    session.run("python", str(WEB / "e2e" / "sandbox.py"), "--port", port)


@nox.session(python="3.11")
def web(session: nox.Session) -> None:
    """The web client: npm ci, codegen + vue-tsc against tests/schema.graphql, eslint, build,
    then the Playwright tests in Chromium against `ruxue serve` (args after -- go to
    Playwright)."""
    install_workspace(session)
    build_web(session, required=True)
    python = shutil.which("python", path=session.bin) or "python"
    with session.chdir(WEB):
        session.run("npm", "run", "lint", external=True)
        session.run(
            "npx",
            "playwright",
            "test",
            *session.posargs,
            external=True,
            env={"RUXUE_PYTHON": python},
        )


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and side-by-side ratios (never pass/fail on time). Each
    module runs in a process of its own, so what one leaves behind (the placement bench's
    million-applicant heap) never weighs on another's figures."""
    install_workspace(session)
    for module in sorted((ROOT / "tests" / "bench").glob("test_*.py")):
        # 5: nothing selected in this module (a -k passed after --)
        arguments = (str(module.relative_to(ROOT)), "-q", "-s", *session.posargs)
        session.run("pytest", *arguments, success_codes=[0, 5])


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
