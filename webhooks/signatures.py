"""Webhook signature checks over the raw request body.

Both schemes are HMAC-SHA256 with the algorithm pinned (never taken from the
request), compared in constant time with :func:`hmac.compare_digest`. Any
failure raises :class:`SignatureError` (chained ``from`` its cause when there
is one) so views have one thing to catch and answer 401.

* Jira (Cloud and Data Center admin webhooks): ``X-Hub-Signature: sha256=<hex>``
  = HMAC-SHA256(secret, raw body), lowercase hex.
* ServiceNow (our business rule): ``X-ITSM-Align-Signature`` =
  base64(HMAC-SHA256(secret, timestamp + "." + raw body)) with
  ``X-ITSM-Align-Timestamp`` in unix seconds; stale beyond ``max_age``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

JIRA_PREFIX = "sha256="


class SignatureError(Exception):
    """The request is not signed by someone who holds the secret (answer 401).

    ``reason`` is a short machine-readable tag used in metrics:
    ``missing``, ``malformed``, ``mismatch`` or ``stale``.
    """

    def __init__(self, message: str, reason: str = "mismatch") -> None:
        super().__init__(message)
        self.reason = reason


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


#: CPython's hashlib lets go of the GIL while hashing 2,048 bytes or more at once.
_GIL_MINSIZE = 2048


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data``, fed in pieces small enough to keep the GIL.

    A webhook body (0.5-30 KB) hashes in a few microseconds. Letting go of the
    GIL for that long, with other request threads waiting for it, means a
    thread switch there and another to get it back, which under load costs
    more than the hash itself."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    view = memoryview(data)
    for start in range(0, len(view), _GIL_MINSIZE - 1):
        mac.update(view[start:start + _GIL_MINSIZE - 1])
    return mac.digest()


def jira_signature(secret: str | bytes, body: bytes) -> str:
    """The header value Jira sends for ``body`` (``sha256=<hex>``)."""
    return JIRA_PREFIX + hmac_sha256(_key(secret), body).hex()


def verify_jira(secret: str | bytes, body: bytes, header: str | None) -> None:
    """Check an ``X-Hub-Signature`` header against the raw body."""
    if not header:
        raise SignatureError("missing X-Hub-Signature header", "missing")
    if not header.startswith(JIRA_PREFIX):
        raise SignatureError("X-Hub-Signature must start with 'sha256='", "malformed")
    try:
        given = bytes.fromhex(header[len(JIRA_PREFIX):].strip())
    except ValueError as error:
        raise SignatureError("X-Hub-Signature is not hex", "malformed") from error
    expected = hmac_sha256(_key(secret), body)
    if not hmac.compare_digest(given, expected):
        raise SignatureError("X-Hub-Signature does not match the body", "mismatch")


def _servicenow_mac(secret: str | bytes, timestamp: str, body: bytes) -> bytes:
    return hmac_sha256(_key(secret), timestamp.encode("ascii") + b"." + body)


def servicenow_signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The header value our business rule sends (base64 HMAC of ``ts + "." + body``)."""
    return base64.b64encode(_servicenow_mac(secret, timestamp, body)).decode("ascii")


def verify_servicenow(secret: str | bytes, body: bytes, timestamp: str | None, header: str | None,
                      *, max_age: float = 300.0, now: float | None = None) -> int:
    """Check ``X-ITSM-Align-Signature`` / ``X-ITSM-Align-Timestamp``; return the timestamp."""
    if not header:
        raise SignatureError("missing X-ITSM-Align-Signature header", "missing")
    if not timestamp:
        raise SignatureError("missing X-ITSM-Align-Timestamp header", "missing")
    if len(timestamp) > 12 or not timestamp.isascii() or not timestamp.isdigit():
        # bounded before use: a 400-digit number would overflow the age check
        raise SignatureError("X-ITSM-Align-Timestamp must be unix seconds (up to 12 digits)", "malformed")
    ts = int(timestamp)
    try:
        given = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError("X-ITSM-Align-Signature is not base64", "malformed") from error
    if not hmac.compare_digest(given, _servicenow_mac(secret, timestamp, body)):
        raise SignatureError("X-ITSM-Align-Signature does not match the body", "mismatch")
    skew = (time.time() if now is None else now) - ts
    if abs(skew) > max_age:
        raise SignatureError(
            f"stale: timestamp is {skew:+.0f}s from now (allowed +/-{max_age:.0f}s); check the clocks", "stale")
    return ts
