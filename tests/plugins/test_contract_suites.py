"""The shipped contract suites themselves: not collected on their own, loud when misused."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ruxue_core.testing import contains_id_number

FORGETFUL = textwrap.dedent(
    """
    from ruxue_core.testing import (
        CaseReporterContract,
        IdentityProviderContract,
        NotifierContract,
        VerifierContract,
    )


    class TestForgetfulVerifier(VerifierContract):
        pass


    class TestForgetfulNotifier(NotifierContract):
        pass


    class TestForgetfulReporter(CaseReporterContract):
        pass


    class TestForgetfulProvider(IdentityProviderContract):
        pass
    """
)
HOOKLESS = textwrap.dedent(
    """
    import pytest

    from ruxue_core.plugins.contracts import CaseRecordPush
    from ruxue_core.testing import CaseReporterContract, RecordingCaseReporter


    class NoHooks:
        pass


    class TestHooklessReporter(CaseReporterContract):
        @pytest.fixture
        def reporter(self):
            return RecordingCaseReporter()

        @pytest.fixture
        def plugin_module(self):
            return NoHooks()

        @pytest.fixture
        def case_record(self):
            return CaseRecordPush("R1", 1, "accept", {"status": "submitted"})
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
    assert "CaseReporterContract needs the fixture 'reporter'" in output
    assert "CaseReporterContract needs the fixture 'case_record'" in output
    assert "IdentityProviderContract needs the fixture 'provider'" in output
    assert "IdentityProviderContract needs the fixture 'plugin_module'" in output
    # Every test of the four subclasses errors at setup (none passes, fails or is skipped);
    # the bases are not collected.
    assert re.search(r"\b\d+ errors\b", output)
    assert "passed" not in output
    assert "failed" not in output
    assert "skipped" not in output


@pytest.mark.slow
def test_a_plugin_object_without_the_hook_fails_registration(tmp_path: Path) -> None:
    (tmp_path / "test_hookless.py").write_text(HOOKLESS, encoding="utf-8")
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    output = result.stdout
    assert "NoHooks has no hook implementation 'ruxue_case_reporters'" in output
    assert "1 failed, 6 passed, 1 skipped" in output


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("王小明已被录取", False),
        ("身份证 42070420190301012X 已核验", True),
        ("回执 420704201903010129", True),
        ("电话 13812341234", False),
        ("身份证号420704201903010129。", True),
        # A 23-digit receipt number (办件编号) holds 18 digits in a row but is no ID number.
        ("办件编号42070420260701123456784已受理", False),
        ("420704201903010129X", False),
    ],
)
def test_contains_id_number(text: str, found: bool) -> None:
    assert contains_id_number(text) is found
