"""A till delivery's signature: HMAC-SHA256 with the store's secret over `<timestamp>.<body>`, sent as

    X-Footfall-Store: kidsplaza_thanhxuan
    X-Footfall-Timestamp: 1733558400            (unix seconds, when the till signed it)
    X-Footfall-Signature: sha256=<hex digest>

Replay-safe in two parts: a signature older (or newer) than `TOLERANCE_S` is refused, and within that window a
delivery id already recorded is not recorded again (`record.py`). A till that retries re-signs with a fresh
timestamp and the same delivery id.
"""

import hashlib
import hmac

TOLERANCE_S = 300
MIN_SECRET_BYTES = 16
PREFIX = "sha256="


class SignatureError(ValueError):
    """The delivery is not from the store's till (or too old to tell): 401, and what was wrong."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return PREFIX + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str | None, signature: str | None, body: bytes, now: float) -> int:
    """The delivery's timestamp when its signature is the store's and fresh.

    Raises:
        SignatureError: a header missing or malformed, the timestamp outside the window, or a wrong signature.
    """
    if not timestamp or not signature:
        raise SignatureError("expected the X-Footfall-Timestamp and X-Footfall-Signature headers")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("X-Footfall-Timestamp: expected unix seconds")
    signed_at = int(timestamp)
    if abs(now - signed_at) > TOLERANCE_S:
        raise SignatureError(f"X-Footfall-Timestamp is {now - signed_at:+.0f} s from now: outside {TOLERANCE_S} s")
    if not hmac.compare_digest(sign(secret, signed_at, body).encode(), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("X-Footfall-Signature does not match the store's secret")
    return signed_at
