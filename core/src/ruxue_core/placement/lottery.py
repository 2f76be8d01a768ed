"""The auditable lottery: commit to a seed, draw from it, let anyone check a published order.

The exact encoding (also in docs/placement.md and ``contrib/lottery/verify_lottery.py``):

- The **seed** is a text string (the bureau draws 32 random bytes and writes them as 64
  lowercase hex digits, :func:`new_seed`); its bytes are its UTF-8 encoding.
- The **commitment**, published before the draw, is ``SHA-256(seed bytes)`` in lowercase hex.
- An entry's **lottery number** is ``HMAC-SHA256(key = seed bytes, message = UTF-8 bytes of
  the receipt number)``, read as a big-endian unsigned 256-bit integer and published as 64
  lowercase hex digits. It depends on nothing but the seed and the receipt number.
- The **order** is ascending lottery number (smaller is drawn first); equal numbers, which
  SHA-256 makes practically impossible, fall back to the receipt number.
- A **published list** is a UTF-8 CSV with the header ``rank,receipt_no,lottery_number``,
  one row per entry in draw order, ``rank`` counting from 1.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from ruxue_core.placement.model import Lottery

COLUMNS = ("rank", "receipt_no", "lottery_number")


def new_seed() -> str:
    """A fresh seed: 32 random bytes as 64 lowercase hex digits."""
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    """What the bureau publishes before the draw: SHA-256 of the seed's UTF-8 bytes, hex."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def lottery_number(seed: str, receipt_no: str) -> int:
    """The entry's lottery number: HMAC-SHA256(seed, receipt number) as a 256-bit integer."""
    digest = hmac.digest(seed.encode("utf-8"), receipt_no.encode("utf-8"), "sha256")
    return int.from_bytes(digest, "big")


def draw(seed: str) -> Lottery:
    """The draw for ``seed`` as the placement engine takes it (receipt number → number)."""
    key = seed.encode("utf-8")

    def number(receipt_no: str) -> int:
        return int.from_bytes(hmac.digest(key, receipt_no.encode("utf-8"), "sha256"), "big")

    return number


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a published order."""

    rank: int
    receipt_no: str
    lottery_number: str  # 64 lowercase hex digits


def published_order(seed: str, receipt_nos: Iterable[str]) -> list[Entry]:
    """The order a draw gives a pool of entries, as it is published."""
    numbered = sorted((lottery_number(seed, r), r) for r in set(receipt_nos))
    return [Entry(rank, r, f"{n:064x}") for rank, (n, r) in enumerate(numbered, start=1)]


def to_csv(entries: Iterable[Entry]) -> str:
    """A published list as CSV text (header ``rank,receipt_no,lottery_number``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((e.rank, e.receipt_no, e.lottery_number) for e in entries)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking a published list; ``problems`` says in Chinese what is wrong."""

    entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the list is exactly what the seed draws."""
        return not self.problems


def verify(seed: str, csv_text: str, commitment_hex: str | None = None) -> Verification:
    """Recompute a published list from the revealed seed.

    Checks, in order: the seed against the commitment (if given); the header; each row's
    rank (its position) and lottery number (HMAC of its receipt number); no receipt number
    twice; and that the rows run in ascending lottery number. Every problem is reported.
    """
    problems: list[str] = []
    if commitment_hex is not None and commitment(seed) != commitment_hex.strip().lower():
        problems.append("种子与事先公布的承诺值 SHA-256(seed) 不符")
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    if not rows or tuple(cell.strip() for cell in rows[0]) != COLUMNS:
        return Verification(0, (*problems, f"表头应为 {','.join(COLUMNS)}"))
    previous: tuple[int, str] | None = None
    seen: set[str] = set()
    for position, row in enumerate(rows[1:], start=1):
        line = position + 1
        if len(row) != len(COLUMNS):
            problems.append(f"第 {line} 行：应有 {len(COLUMNS)} 列")
            continue
        rank, receipt_no, published = (cell.strip() for cell in row)
        if rank != str(position):
            problems.append(f"第 {line} 行：名次 {rank} 应为 {position}")
        if receipt_no in seen:
            problems.append(f"第 {line} 行：办件编号 {receipt_no} 重复")
        seen.add(receipt_no)
        number = lottery_number(seed, receipt_no)
        if published.lower() != f"{number:064x}":
            problems.append(f"第 {line} 行：办件 {receipt_no} 的摇号号码与种子计算结果不符")
        if previous is not None and (number, receipt_no) < previous:
            problems.append(f"第 {line} 行：办件 {receipt_no} 的顺序不对（应排在上一行之前）")
        previous = (number, receipt_no)
    return Verification(len(rows) - 1, tuple(problems))
