"""The shipped contract suites themselves: not collected on their own, loud when misused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ruxue_core.testing import contains_id_number

FORGETFUL = textwrap.dedent(
    """
    from ruxue_core.testing import NotifierContract, VerifierContract


    class TestForgetfulVerifier(VerifierContract):
        pass


    class TestForgetfulNotifier(NotifierContract):
        pass
    """
)


def run_pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(directory),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_missing_fixtures_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "test_forgetful.py").write_text(FORGETFUL, encoding="utf-8")
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    output = result.stdout
    assert "VerifierContract needs the fixture 'verifier'" in output
    assert "VerifierContract needs the fixture 'plugin_module'" in output
    assert "NotifierContract needs the fixture 'notifier'" in output
    # Every test of the two subclasses errors at setup; the bases are not collected.
    assert "12 errors" in output
    assert "passed" not in output
    assert "failed" not in output


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("王小明已被录取", False),
        ("身份证 42070420190301012X 已核验", True),
        ("回执 420704201903010129", True),
        ("电话 13812341234", False),
    ],
)
def test_contains_id_number(text: str, found: bool) -> None:
    assert contains_id_number(text) is found
