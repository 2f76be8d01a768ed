"""Identifiers that must be unique, not secret: request ids and signature nonces.

``secrets``/``uuid4`` make a system call for every value, which on some hosts costs
milliseconds; at a department's concurrency bound that is a measurable share of each check.
Uniqueness is all a request id or a nonce needs (the signature, not the nonce, carries the
secret), so they come from a generator seeded once per process from the operating system,
and seeded again in a forked child so that two processes never share a sequence.
"""

from __future__ import annotations

import os
import random
import secrets

_state: tuple[int, random.Random] | None = None


def _generator() -> random.Random:
    global _state  # one generator per process, made on first use
    pid = os.getpid()
    if _state is None or _state[0] != pid:
        _state = (pid, random.Random(secrets.randbits(256)))  # noqa: S311 - unique, not secret
    return _state[1]


def unique_hex(nbytes: int = 16) -> str:
    """``nbytes`` random bytes as hex, unique with overwhelming probability (not secret)."""
    return f"{_generator().getrandbits(nbytes * 8):0{nbytes * 2}x}"
