"""Signed requests to departments' data-sharing services (数据共享交换), one helper for both
sides: verifier plugins sign, services (and the sandbox) verify.

A request carries an app key, a timestamp, a nonce and the SHA-256 of its body; the signature
is HMAC-SHA256, keyed with the app's secret, over::

    METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n BODY-SHA256 \\n APP-KEY

Beside it go the message's context headers, as X-Road carries them: the request id
(``X-Road-Id``), the acting user (``X-Road-UserId``), the case (``X-Road-Issue``), the purpose
(``X-Road-Purpose``) and the consent relied on (``X-Consent-Ref``), each percent-encoded
UTF-8. They are not secret, but they are signed: the context headers' canonical form is
part of the body hash input, so a relay cannot swap the case or purpose of a signed request.

A verifying service refuses a timestamp more than ``max_skew`` seconds away from its clock
and a nonce it has seen within that window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from ruxue_core.unique import unique_hex

APP_KEY: Final = "X-App-Key"
TIMESTAMP: Final = "X-Timestamp"
NONCE: Final = "X-Nonce"
CONTENT_SHA256: Final = "X-Content-SHA256"
SIGNATURE: Final = "X-Signature"
REQUEST_ID: Final = "X-Road-Id"
USER_ID: Final = "X-Road-UserId"
ISSUE: Final = "X-Road-Issue"
PURPOSE: Final = "X-Road-Purpose"
CONSENT: Final = "X-Consent-Ref"
CONTEXT_HEADERS: Final = (REQUEST_ID, USER_ID, ISSUE, PURPOSE, CONSENT)
"""The signed context headers, in canonical order."""
_SAFE: Final = "-_.~:@"


class SignatureError(Exception):
    """A request's signature does not hold; ``code`` says why (a stable English word)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asks, for which case, why, under which consent (the signed context headers)."""

    request_id: str
    purpose: str
    acting_user: str | None = None
    case_ref: str | None = None
    consent_ref: str | None = None

    def headers(self) -> dict[str, str]:
        """The context as headers, percent-encoded (headers are ASCII; the purpose is
        Chinese, and an id may be too)."""
        values = {
            REQUEST_ID: self.request_id,
            USER_ID: self.acting_user or "",
            ISSUE: self.case_ref or "",
            PURPOSE: self.purpose,
            CONSENT: self.consent_ref or "",
        }
        return {k: quote(v, safe=_SAFE) for k, v in values.items() if v}

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestContext:
        """Read the context back from (case-insensitive) headers."""
        lower = {k.lower(): unquote(v) for k, v in headers.items()}
        return cls(
            request_id=lower.get(REQUEST_ID.lower(), ""),
            purpose=lower.get(PURPOSE.lower(), ""),
            acting_user=lower.get(USER_ID.lower()) or None,
            case_ref=lower.get(ISSUE.lower()) or None,
            consent_ref=lower.get(CONSENT.lower()) or None,
        )


def _digest(body: bytes, headers: Mapping[str, str]) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    context = "\n".join(f"{h.lower()}:{lower.get(h.lower(), '')}" for h in CONTEXT_HEADERS)
    return hashlib.sha256(context.encode() + b"\n\n" + body).hexdigest()


def _canonical(method: str, path: str, timestamp: str, nonce: str, digest: str, key: str) -> bytes:
    return "\n".join((method.upper(), path, timestamp, nonce, digest, key)).encode()


def _mac(secret: str, message: bytes) -> str:
    raw = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(raw).decode()


def sign_request(
    *,
    app_key: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    context: RequestContext,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Every header a signed request needs: context, app key, timestamp, nonce, body hash
    and signature. ``path`` is the URL path as the service sees it (no query string)."""
    headers = context.headers()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    once = nonce or unique_hex(16)
    digest = _digest(body, headers)
    signature = _mac(secret, _canonical(method, path, stamp, once, digest, app_key))
    return headers | {
        APP_KEY: app_key,
        TIMESTAMP: stamp,
        NONCE: once,
        CONTENT_SHA256: digest,
        SIGNATURE: signature,
    }


class SignatureVerifier:
    """Checks signed requests for a service: known app key, fresh timestamp, unused nonce,
    body hash and signature. Thread-safe; remembers nonces for the skew window.

    :param secrets_by_key: app key → secret.
    :param max_skew: seconds a timestamp may differ from the clock.
    """

    def __init__(
        self,
        secrets_by_key: Mapping[str, str],
        *,
        max_skew: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = dict(secrets_by_key)
        self.max_skew = max_skew
        self._clock = clock
        self._nonces: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the caller's app key if the request is properly signed.

        :raises SignatureError: ``missing``, ``unknown_key``, ``stale``, ``body_hash``,
            ``signature`` or ``replay``.
        """
        lower = {k.lower(): v for k, v in headers.items()}
        values = [lower.get(h.lower()) for h in (APP_KEY, TIMESTAMP, NONCE, CONTENT_SHA256)]
        signature = lower.get(SIGNATURE.lower())
        if signature is None or any(v is None or not v for v in values):
            raise SignatureError("missing", "缺少签名请求头")
        key, stamp, nonce, digest = (v or "" for v in values)
        secret = self._secrets.get(key)
        if secret is None:
            raise SignatureError("unknown_key", "应用标识无效")
        now = self._clock()
        try:
            fresh = abs(now - int(stamp)) <= self.max_skew
        except ValueError:
            fresh = False
        if not fresh:
            raise SignatureError("stale", "请求时间戳已过期或无效")
        if not hmac.compare_digest(digest, _digest(body, headers)):
            raise SignatureError("body_hash", "请求体摘要不一致")
        expected = _mac(secret, _canonical(method, path, stamp, nonce, digest, key))
        if not hmac.compare_digest(signature, expected):
            raise SignatureError("signature", "签名无效")
        with self._lock:
            self._forget(now)
            if nonce in self._nonces:
                raise SignatureError("replay", "请求随机数已使用（疑似重放）")
            self._nonces[nonce] = now + 2 * self.max_skew
        return key

    def _forget(self, now: float) -> None:
        if len(self._nonces) < 1024:
            return
        self._nonces = {n: until for n, until in self._nonces.items() if until > now}
