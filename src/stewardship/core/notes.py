"""Signed notes, checkpoints and cosignatures in the C2SP text formats.

- signed-note: a UTF-8 text ending in a newline, a blank line, then one line per signature
  ``— <key name> base64(key id || signature)``. The key id is the first four bytes of
  SHA-256(key name || 0x0A || signature type || public key). Verifier keys (vkeys) are
  ``<name>+<hex key id>+base64(type || public key)``.
- tlog-checkpoint: a note whose text is the log's origin, its tree size and its root hash
  (base64), one per line, then optional extension lines.
- tlog-cosignature (Ed25519, type 0x04): a witness signs ``cosignature/v1``, ``time <t>``
  and the checkpoint's text; the signature is the 8-byte big-endian time and the Ed25519
  signature.

Pure functions over bytes and ``cryptography``'s Ed25519 keys; no storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_ED25519 = 0x04
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20


class NoteError(ValueError):
    """A note, vkey, checkpoint or cosignature that is malformed or does not verify."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]."""
    data = check_key_name(name).encode() + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(data).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A known key: name, signature type and Ed25519 public key."""

    name: str
    signature_type: int
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.signature_type, _raw(self.public_key))

    @property
    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + _raw(self.public_key))
        return f"{self.name}+{self.key_id.hex()}+{material.decode()}"


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey
    signature_type: int = ED25519

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.signature_type, self.private_key.public_key())


def parse_vkey(text: str) -> Verifier:
    """A vkey of type 0x01 or 0x04; the key id in it must be the one its key gives."""
    parts = text.strip().split("+", 2)  # base64 itself may hold "+"
    if len(parts) != 3:
        raise NoteError("a verifier key has three parts: name+keyid+key")
    name, hex_id, material = parts
    check_key_name(name)
    try:
        raw = base64.b64decode(material, validate=True)
        given_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("the verifier key's id or key is not valid hex / base64") from exc
    if len(given_id) != 4 or len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_ED25519):
        raise NoteError("the verifier key is not an Ed25519 key of type 0x01 or 0x04")
    verifier = Verifier(name, raw[0], Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_id != given_id:
        raise NoteError("the verifier key's id does not match its name and key")
    return verifier


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note holds no control characters but newlines")


def sign_text(text: str, signer: Signer) -> Signature:
    """A signature line of an Ed25519 (type 0x01) key over ``text``."""
    _check_text(text)
    v = signer.verifier
    return Signature(v.name, v.key_id, signer.private_key.sign(text.encode()))


def sign(text: str, *signers: Signer) -> str:
    """The signed note of ``text`` by each signer, in order."""
    return Note(text, tuple(sign_text(text, s) for s in signers)).render()


def parse(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (not yet verified)."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError("the note is larger than 1 MiB")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note is UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note holds no control characters but newlines")
    at = note.rfind("\n\n")
    if at < 0:
        raise NoteError("a note has a blank line between its text and its signatures")
    text, block = note[:at + 1], note[at + 2:]
    if not block.endswith("\n"):
        raise NoteError("a note's last signature line ends with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note has at most {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line starts with an em dash and a space")
        name, sep, blob = line[len(SIGNATURE_PREFIX):].partition(" ")
        if not sep or " " in blob:
            raise NoteError("a signature line is '— <name> <base64>'")
        check_key_name(name)
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"the signature of {name} is not base64") from exc
        if len(raw) < 5:
            raise NoteError(f"the signature of {name} is too short")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return Note(text, tuple(signatures))


def _matching(note: Note, verifier: Verifier) -> list[Signature]:
    return [s for s in note.signatures
            if s.name == verifier.name and s.key_id == verifier.key_id]


def open_note(note: str | bytes, *verifiers: Verifier) -> tuple[Note, list[Verifier]]:
    """Verify a note against the known keys (type 0x01): every signature of a known key
    must verify, and at least one must be there. Unknown signatures are ignored. Returns
    the note and the verifiers whose signatures verified."""
    parsed = parse(note)
    good: list[Verifier] = []
    for v in verifiers:
        if v.signature_type != ED25519:
            continue
        for s in _matching(parsed, v):
            try:
                v.public_key.verify(s.signature, parsed.text.encode())
            except InvalidSignature as exc:
                raise NoteError(f"the signature of {v.name} does not verify") from exc
            good.append(v)
    if not good:
        raise NoteError("no signature of a known key is on the note")
    return parsed, good


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(),
                 *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint's note text: origin, size without leading zeros, base64 root hash."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint's text ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("a checkpoint has at least three non-empty lines")
    origin, size_text, root_text, *extensions = lines
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("a checkpoint's size is a decimal number without leading zeros")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("a checkpoint's root hash is base64") from exc
    if len(root_hash) != 32:
        raise NoteError("a checkpoint's root hash is 32 bytes")
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()


def cosign(checkpoint_text: str, witness: Signer, timestamp: int) -> Signature:
    """A witness's Ed25519 cosignature (type 0x04) of a checkpoint at ``timestamp``."""
    if not 0 <= timestamp < 1 << 63:
        raise NoteError("a cosignature's time is between 0 and 2^63 - 1")
    parse_checkpoint(checkpoint_text)
    public = _raw(witness.private_key.public_key())
    signed = witness.private_key.sign(cosigned_message(checkpoint_text, timestamp))
    return Signature(witness.name, key_id(witness.name, COSIGNATURE_ED25519, public),
                     timestamp.to_bytes(8, "big") + signed)


def verify_cosignature(checkpoint_text: str, signature: Signature, witness: Verifier) -> int:
    """The time of a witness's cosignature, once it verifies."""
    if signature.name != witness.name or signature.key_id != witness.key_id:
        raise NoteError("the cosignature is not by this witness")
    if len(signature.signature) != 72:
        raise NoteError("an Ed25519 cosignature is 8 bytes of time and 64 of signature")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    try:
        witness.public_key.verify(signature.signature[8:],
                                  cosigned_message(checkpoint_text, timestamp))
    except InvalidSignature as exc:
        raise NoteError(f"the cosignature of {witness.name} does not verify") from exc
    return timestamp


def witness_verifier(name: str, public_key: Ed25519PublicKey) -> Verifier:
    return Verifier(check_key_name(name), COSIGNATURE_ED25519, public_key)
