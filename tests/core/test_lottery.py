"""The auditable lottery: the exact encoding (vectors computed with ``openssl dgst``), the
published order, and verification by the core and by the stand-alone contrib script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruxue_core.placement import lottery

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contrib" / "lottery" / "verify_lottery.py"
SEED = "ruxue-2026-demo-seed"
# printf 'ruxue-2026-demo-seed' | sha256sum
COMMIT = "bd0e1db9f8f4787640d4e8be4e1fb0cc08e2060130166c6f2586b7919d288c1e"
# printf 'R20260001' | openssl dgst -sha256 -hmac 'ruxue-2026-demo-seed'
R20260001 = "7292d3cd26f1c6108ef9adb9b1babbc75f1bd6e5757f39738ee4201688fe0d0d"
RECEIPTS = [f"R2026{i:04d}" for i in range(1, 41)]


def test_commitment_and_number_follow_the_published_encoding() -> None:
    assert lottery.commitment(SEED) == COMMIT
    assert f"{lottery.lottery_number(SEED, 'R20260001'):064x}" == R20260001
    assert lottery.draw(SEED)("R20260001") == int(R20260001, 16)
    fresh = lottery.new_seed()
    assert len(fresh) == 64 and int(fresh, 16) >= 0 and fresh != lottery.new_seed()


def test_the_order_is_ascending_lottery_number() -> None:
    entries = lottery.published_order(SEED, reversed(RECEIPTS))
    assert [e.rank for e in entries] == list(range(1, 41))
    numbers = [int(e.lottery_number, 16) for e in entries]
    assert numbers == sorted(numbers)
    assert {e.receipt_no for e in entries} == set(RECEIPTS)
    assert lottery.published_order("another seed", RECEIPTS) != entries


def published() -> str:
    return lottery.to_csv(lottery.published_order(SEED, RECEIPTS))


def swapped(text: str, first: int, second: int) -> str:
    """Two entries change places (their rank cells stay where they were)."""
    lines = text.splitlines()
    a, b = lines[first].split(",", 1), lines[second].split(",", 1)
    lines[first], lines[second] = f"{a[0]},{b[1]}", f"{b[0]},{a[1]}"
    return "\n".join(lines) + "\n"


def test_a_published_list_verifies_and_a_tampered_one_does_not() -> None:
    text = published()
    assert text.startswith("rank,receipt_no,lottery_number\n1,")
    good = lottery.verify(SEED, text, COMMIT)
    assert good.ok and good.entries == 40
    assert lottery.verify(SEED, "\ufeff" + text).ok  # a spreadsheet's byte-order mark
    bad = lottery.verify(SEED, swapped(text, 3, 7))
    assert not bad.ok and any("顺序不对" in p for p in bad.problems)
    assert not lottery.verify("wrong seed", text).ok
    assert lottery.verify(SEED, text, "00" * 32).problems == (
        "种子与事先公布的承诺值 SHA-256(seed) 不符",
    )
    assert R20260001 in text
    forged = text.replace(R20260001, "0" * 64)
    assert not lottery.verify(SEED, forged).ok
    assert not lottery.verify(SEED, "receipt,number\n").ok
    doubled = text + f"41,{RECEIPTS[0]},{R20260001}\n"
    assert any("重复" in p for p in lottery.verify(SEED, doubled).problems)


RECEIPT_NOS = st.from_regex(r"[A-Z0-9]{1,12}", fullmatch=True)


@given(st.lists(RECEIPT_NOS, min_size=2, max_size=12, unique=True), st.data())
def test_any_swap_of_two_entries_is_caught(receipts: list[str], data: st.DataObject) -> None:
    text = lottery.to_csv(lottery.published_order(SEED, receipts))
    assert lottery.verify(SEED, text).ok
    rows = text.splitlines()
    first = data.draw(st.integers(1, len(rows) - 2))
    second = data.draw(st.integers(first + 1, len(rows) - 1))
    assert not lottery.verify(SEED, swapped(text, first, second)).ok


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("tamper", [False, True])
def test_the_contrib_script_agrees(tmp_path: Path, tamper: bool) -> None:
    path = tmp_path / "published.csv"
    text = published()
    path.write_text(swapped(text, 1, 2) if tamper else text, encoding="utf-8")
    checked = run_script("--seed", SEED, "--list", str(path), "--commit", COMMIT)
    if tamper:
        assert checked.returncode == 1, checked.stdout
        assert "out of order" in checked.stdout and "NOT VERIFIED" in checked.stdout
    else:
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "VERIFIED: 40 entries" in checked.stdout
    wrong_commit = run_script("--seed", SEED, "--list", str(path), "--commit", "ab" * 32)
    assert wrong_commit.returncode == 1 and "commitment" in wrong_commit.stdout
    assert run_script("--seed", SEED, "--list", str(tmp_path / "missing.csv")).returncode == 2
