"""``ruxue lottery verify`` accepts a published draw and rejects one with two entries swapped."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ruxue_core.placement import lottery
from ruxue_gateway.cli import app

SEED = lottery.new_seed()
RECEIPTS = [f"R2026{i:05d}" for i in range(200)]


def verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["lottery", "verify", *args])
    return result.exit_code, result.output


def test_accepts_the_published_list_and_rejects_a_swap(tmp_path: Path) -> None:
    entries = lottery.published_order(SEED, RECEIPTS)
    good = tmp_path / "published.csv"
    good.write_text(lottery.to_csv(entries), encoding="utf-8")
    code, output = verify("--seed", SEED, "--list", str(good), "--commit", lottery.commitment(SEED))
    assert code == 0, output
    assert "核验通过" in output and "200 条" in output

    entries[10], entries[11] = entries[11], entries[10]
    bad = tmp_path / "swapped.csv"
    bad.write_text(lottery.to_csv(entries), encoding="utf-8")
    code, output = verify("--seed", SEED, "--list", str(bad))
    assert code == 1
    assert "核验不通过" in output and "第 12 行" in output


def test_a_wrong_seed_or_commitment_or_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "published.csv"
    path.write_text(lottery.to_csv(lottery.published_order(SEED, RECEIPTS)), encoding="utf-8")
    code, output = verify("--seed", "guess", "--list", str(path))
    assert code == 1 and "摇号号码与种子计算结果不符" in output
    code, output = verify("--seed", SEED, "--list", str(path), "--commit", "0" * 64)
    assert code == 1 and "承诺值" in output
    code, output = verify("--seed", SEED, "--list", str(tmp_path / "none.csv"))
    assert code == 2 and "无法读取" in output
