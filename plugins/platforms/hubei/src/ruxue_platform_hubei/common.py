"""What the three login providers share: the verified person as a principal, real-name levels,
credential checks before any I/O, and a short cache of answers keyed by a credential's hash."""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Final

from ruxue_core import ConfigurationError, Principal, Role

DEFAULT_LEVELS: Final[Mapping[str, int]] = {"L1": 1, "L2": 2, "L3": 3, "L4": 4}
"""The provider's real-name level codes (实名认证等级) → Ruxue's 1…4 (configurable)."""
RESIDENT_ID_TYPES: Final = frozenset({"111", "resident_id", "ID_CARD"})
_CREDENTIAL: Final = re.compile(r"[A-Za-z0-9._~+/=-]{8,2048}")
MAX_CACHED: Final = 4096


def credential(authorization: str) -> str | None:
    """The token of ``Bearer <token>`` if it is plausible (checked before any I/O)."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _CREDENTIAL.fullmatch(token):
        return None
    return token


def levels_from(options: Mapping[str, Any]) -> dict[str, int]:
    """The level table from options (``levels``), or the default.

    :raises ConfigurationError: a level outside 1…4.
    """
    levels = dict(options.get("levels") or DEFAULT_LEVELS)
    for code, level in levels.items():
        if not isinstance(level, int) or not 1 <= level <= 4:
            raise ConfigurationError(f"实名认证等级 {code} 应映射为 1 至 4")
    return {str(k): int(v) for k, v in levels.items()}


def guardian(
    *,
    subject: object,
    name: object,
    id_number: object,
    phone: object,
    level: object,
    levels: Mapping[str, int],
    id_type: object = "111",
) -> Principal | None:
    """The guardian principal for what a provider verified; ``None`` without a subject. The
    ID number counts only for a resident identity card (居民身份证)."""
    if not isinstance(subject, str | int) or not str(subject):
        return None
    is_card = str(id_type) in RESIDENT_ID_TYPES
    verified = id_number.strip() or None if isinstance(id_number, str) and is_card else None
    return Principal(
        id=str(subject)[:100],
        role=Role.GUARDIAN,
        name=name if isinstance(name, str) else "",
        verified_id_number=verified,
        assurance_level=levels.get(str(level)) if level is not None else None,
        verified_phone=phone.strip() or None if isinstance(phone, str) else None,
    )


class AnswerCache:
    """Answers for credentials, for ``seconds``, keyed by the credential's SHA-256 (the
    credential itself is not kept)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> tuple[bool, Principal | None]:
        """``(found, principal)``."""
        item = self._items.get(self._key(token))
        if item is None or item[0] < time.monotonic():
            return False, None
        return True, item[1]

    def put(self, token: str, principal: Principal | None) -> None:
        """Remember the answer for ``token``."""
        if self.seconds <= 0:
            return
        self._items[self._key(token)] = (time.monotonic() + self.seconds, principal)
        while len(self._items) > MAX_CACHED:
            self._items.popitem(last=False)
