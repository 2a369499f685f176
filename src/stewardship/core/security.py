"""Passwords (argon2), opaque tokens stored only as digests, and signed values."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# "standard" is argon2-cffi's RFC 9106 low-memory profile; "fast" is its test profile,
# for test suites only (settings refuse it in production).
PASSWORD_PROFILES = {
    "standard": profiles.RFC_9106_LOW_MEMORY,
    "fast": profiles.CHEAPEST,
}
_hasher = PasswordHasher.from_parameters(PASSWORD_PROFILES["standard"])


def use_password_profile(name: str) -> None:
    """Switch how new passwords are hashed; existing hashes verify under any profile."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(PASSWORD_PROFILES[name])
    _DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 10
API_TOKEN_PREFIX = "stw_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash computed once so that a login for an unknown e-mail costs the same time as a real one.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def burn_password_check(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The only form in which a bearer, session or invitation token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign(secret: str, value: str) -> str:
    mac = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{value}.{mac}"


def unsign(secret: str, signed: str) -> str | None:
    value, _, mac = signed.rpartition(".")
    if not value:
        return None
    expected = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]
    return value if hmac.compare_digest(mac, expected) else None


def encode_signed_json(secret: str, data: Any) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return sign(secret, raw)


def decode_signed_json(secret: str, signed: str) -> Any:
    raw = unsign(secret, signed)
    if raw is None:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, json.JSONDecodeError):
        return None
