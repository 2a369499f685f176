"""The platform's signing key for the transparency log, and the keys it published before.

The key is read from a file (``STEWARDSHIP_LOG_KEY_FILE``) or the environment
(``STEWARDSHIP_LOG_KEY``): the base64 of a 32-byte Ed25519 seed, never stored in the
database. Production refuses to start without one (``Settings``). In development and tests
a key is made on first use and kept beside the database in ``var_dir/log-signing-key``
(readable by its owner only), so checkpoints stay verifiable across restarts.

Keys rotate: put the new seed in place and the old key's vkey in
``STEWARDSHIP_LOG_PREVIOUS_KEYS``; checkpoints record the id of the key that signed them.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stewardship.core import notes
from stewardship.core.config import Settings

DEV_KEY_NAME = "log-signing-key"


class LogKeyError(ValueError):
    """The configured key cannot be read or is not an Ed25519 seed."""


def new_seed() -> str:
    """A fresh key, as the file or the environment variable holds it."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(seed).decode()


def parse_seed(text: str, where: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise LogKeyError(f"{where} is not base64") from exc
    if len(raw) != 32:
        raise LogKeyError(f"{where} must hold a 32-byte Ed25519 seed, not {len(raw)} bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _dev_key(directory: Path) -> Ed25519PrivateKey:
    path = directory / DEV_KEY_NAME
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_seed() + "\n")
    return parse_seed(path.read_text(), str(path))


def log_signer(settings: Settings) -> notes.Signer:
    """The signer of this platform's checkpoints, named by the log's origin."""
    if settings.log_key_file is not None:
        try:
            text = settings.log_key_file.read_text()
        except OSError as exc:
            raise LogKeyError(f"cannot read the log key file {settings.log_key_file}: "
                            f"{exc.strerror}") from exc
        key = parse_seed(text, str(settings.log_key_file))
    elif settings.log_key:
        key = parse_seed(settings.log_key, "STEWARDSHIP_LOG_KEY")
    elif settings.environment == "production":
        raise LogKeyError("no transparency log key is configured")
    else:
        key = _dev_key(settings.var_dir)
    return notes.Signer(settings.resolved_log_origin, key)


@dataclass(frozen=True)
class PublishedKey:
    vkey: str
    key_id: str
    current: bool


def published_keys(settings: Settings, signer: notes.Signer) -> list[PublishedKey]:
    """The current verifier key first, then every earlier one still published."""
    current = signer.verifier
    out = [PublishedKey(current.vkey, current.key_id.hex(), True)]
    for text in settings.log_previous_keys:
        v = notes.parse_vkey(text)
        if v.key_id != current.key_id:
            out.append(PublishedKey(v.vkey, v.key_id.hex(), False))
    return out


def verifiers(settings: Settings, signer: notes.Signer) -> list[notes.Verifier]:
    return [notes.parse_vkey(k.vkey) for k in published_keys(settings, signer)]
