#!/usr/bin/env python3
"""Check a published lottery order against the revealed seed, trusting nobody's servers.

Usage::

    python verify_lottery.py --seed SEED --list published.csv [--commit SHA256HEX]

Before the draw the bureau publishes ``commit = SHA-256(seed)``; after it, the seed and
the order. This script recomputes everything with the Python standard library alone:

- the seed's bytes are its UTF-8 encoding, and ``--commit`` must equal SHA-256 of them
  (64 lowercase hex digits);
- each entry's lottery number is HMAC-SHA256 with the seed's bytes as key and the UTF-8
  bytes of the receipt number (办件编号) as message, read as a big-endian 256-bit number
  and written as 64 lowercase hex digits;
- the order is ascending lottery number (equal numbers, practically impossible, by receipt
  number);
- the list is UTF-8 CSV with the header ``rank,receipt_no,lottery_number``, one row per
  entry in draw order, ranks counting from 1.

It prints every problem found and exits 0 only if the list is exactly what the seed draws
(1 if not, 2 if the file cannot be read).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import sys
from pathlib import Path

COLUMNS = ("rank", "receipt_no", "lottery_number")


def lottery_number(seed: str, receipt_no: str) -> int:
    """HMAC-SHA256(seed, receipt number) as a 256-bit integer."""
    digest = hmac.new(seed.encode("utf-8"), receipt_no.encode("utf-8"), hashlib.sha256)
    return int.from_bytes(digest.digest(), "big")


def problems(seed: str, text: str, commit: str | None) -> list[str]:
    """Everything wrong with the published list ``text`` (empty when it verifies)."""
    found = []
    seed_hash = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    if commit is not None and seed_hash != commit.strip().lower():
        found.append("the seed does not match the published commitment SHA-256(seed)")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or tuple(cell.strip() for cell in rows[0]) != COLUMNS:
        return [*found, "the header must be " + ",".join(COLUMNS)]
    previous = None
    seen = set()
    for position, row in enumerate(rows[1:], start=1):
        line = position + 1
        if len(row) != len(COLUMNS):
            found.append(f"line {line}: expected {len(COLUMNS)} columns")
            continue
        rank, receipt_no, published = (cell.strip() for cell in row)
        if rank != str(position):
            found.append(f"line {line}: rank {rank} should be {position}")
        if receipt_no in seen:
            found.append(f"line {line}: receipt {receipt_no} appears twice")
        seen.add(receipt_no)
        number = lottery_number(seed, receipt_no)
        if published.lower() != f"{number:064x}":
            found.append(
                f"line {line}: the lottery number of {receipt_no} is not what the seed gives"
            )
        if previous is not None and (number, receipt_no) < previous:
            found.append(
                f"line {line}: {receipt_no} is out of order (it draws before the line above)"
            )
        previous = (number, receipt_no)
    return found


def main(argv: list[str] | None = None) -> int:
    """Verify one published list; print the verdict; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", required=True, help="the revealed seed, exactly as published")
    parser.add_argument("--list", required=True, type=Path, help="the published CSV")
    parser.add_argument("--commit", help="the SHA-256 commitment published before the draw")
    args = parser.parse_args(argv)
    try:
        text = args.list.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.list}: {exc}", file=sys.stderr)
        return 2
    found = problems(args.seed, text, args.commit)
    for problem in found[:50]:
        print(problem)
    if found:
        print(f"NOT VERIFIED: {len(found)} problem(s)")
        return 1
    entries = len(list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))) - 1
    print(f"VERIFIED: {entries} entries in draw order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
