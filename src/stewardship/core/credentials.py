"""Verifiable credentials as the platform issues them: VC-JOSE (a JWS in compact form over
the credential, ``alg: EdDSA``, ``typ: vc+jwt``), issuers as ``did:web``, and W3C Bitstring
Status Lists for suspension and revocation.

Pure functions over JSON and bytes; the contexts decide what a credential says.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from stewardship.core.canonical import compact_json

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
MEDIA_TYPE = "application/vc+jwt"
STATUS_LIST_BITS = 131_072
"""The smallest list the Bitstring Status List specification allows (16 KiB), so that one
entry's index does not single out its holder."""
MAX_TOKEN_BYTES = 1 << 20


class CredentialError(ValueError):
    """A token, key, DID or status list that is malformed or does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    if not isinstance(text, str) or any(c in text for c in "=+/ \n"):
        raise CredentialError("not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CredentialError("not base64url") from exc


def _json_bytes(value: Any, known: tuple[Any, ...] = ()) -> bytes:
    return compact_json(value, known=known)


# --- JOSE ------------------------------------------------------------------------------


def sign_jwt(payload: dict[str, Any], key: Ed25519PrivateKey, kid: str,
             typ: str = "vc+jwt", *, known: tuple[Any, ...] = ()) -> str:
    """A compact JWS (EdDSA) of ``payload`` (``known``: its parts that are plain JSON
    data already, see ``canonical.compact_json``)."""
    header = {"alg": "EdDSA", "kid": kid, "typ": typ}
    signing_input = (b64url(_json_bytes(header)) + "."
                     + b64url(_json_bytes(payload, known)))
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


@dataclass(frozen=True)
class Jwt:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def decode_jwt(token: str) -> Jwt:
    """Split and decode a compact JWS without checking its signature."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise CredentialError("a credential is a compact JWS of at most 1 MiB")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CredentialError("a compact JWS has three parts separated by dots")
    try:
        header = json.loads(unb64url(parts[0]))
        payload = json.loads(unb64url(parts[1]))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CredentialError("the JWS header or payload is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise CredentialError("the JWS header and payload are JSON objects")
    if header.get("alg") != "EdDSA":
        raise CredentialError(f"unsupported algorithm {header.get('alg')!r}; EdDSA expected")
    if not isinstance(header.get("kid"), str):
        raise CredentialError("the JWS header names its key (kid)")
    return Jwt(header, payload, (parts[0] + "." + parts[1]).encode("ascii"),
               unb64url(parts[2]))


def verify_jwt(token: Jwt, key: Ed25519PublicKey) -> None:
    try:
        key.verify(token.signature, token.signing_input)
    except InvalidSignature as exc:
        raise CredentialError("the signature does not verify with the issuer's key") from exc


# --- did:web ---------------------------------------------------------------------------


def did_web(base_url: str) -> str:
    """The did:web of a base URL: ``https://register.example.org:8443/scheme`` is
    ``did:web:register.example.org%3A8443:scheme``."""
    parts = urlsplit(base_url if "://" in base_url else "https://" + base_url)
    if not parts.hostname:
        raise CredentialError(f"{base_url!r} has no host to make a did:web of")
    host = parts.hostname + (f"%3A{parts.port}" if parts.port else "")
    path = [quote(p, safe="") for p in parts.path.split("/") if p]
    return ":".join(["did:web", host, *path])


def did_document_url(did: str) -> str:
    """Where a did:web's document lives (https, as the DID method says)."""
    if not did.startswith("did:web:"):
        raise CredentialError(f"{did} is not a did:web")
    segments = did.removeprefix("did:web:").split(":")
    host = segments[0].replace("%3A", ":")
    path = "/".join(segments[1:])
    return f"https://{host}/{path + '/did.json' if path else '.well-known/did.json'}"


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519",
            "x": b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))}


def key_from_jwk(jwk: Any) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise CredentialError("the key is not an Ed25519 JWK (kty OKP, crv Ed25519)")
    raw = unb64url(str(jwk.get("x", "")))
    if len(raw) != 32:
        raise CredentialError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def did_document(did: str, keys: Iterable[tuple[str, Ed25519PublicKey]]) -> dict[str, Any]:
    """The DID document naming every key (current and retired) as a verification method;
    each key's fragment is given with it."""
    methods = [{"id": f"{did}#{fragment}", "type": "JsonWebKey", "controller": did,
                "publicKeyJwk": public_jwk(key)} for fragment, key in keys]
    ids = [m["id"] for m in methods]
    return {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
            "id": did, "verificationMethod": methods, "assertionMethod": ids}


def key_in_document(document: Any, kid: str) -> Ed25519PublicKey:
    """The assertion key ``kid`` of a DID document."""
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise CredentialError("the issuer's DID document is not a DID document")
    if not kid.startswith(document["id"] + "#"):
        raise CredentialError(f"key {kid} is not one of {document['id']}'s keys")
    allowed = document.get("assertionMethod") or []
    for method in document.get("verificationMethod") or []:
        if isinstance(method, dict) and method.get("id") == kid:
            if kid not in allowed:
                raise CredentialError(f"key {kid} is not for issuing credentials")
            return key_from_jwk(method.get("publicKeyJwk"))
    raise CredentialError(f"the issuer's DID document has no key {kid}")


# --- Bitstring Status List ---------------------------------------------------------------


def encode_status_list(set_bits: Iterable[int], length: int = STATUS_LIST_BITS) -> str:
    """The ``encodedList`` of a status list: multibase base64url ('u') of the GZIP of the
    bitstring, bit 0 the most significant bit of the first byte."""
    data = bytearray(length // 8)
    for index in set_bits:
        if not 0 <= index < length:
            raise CredentialError(f"status index {index} is outside a list of {length}")
        data[index // 8] |= 0x80 >> (index % 8)
    return "u" + b64url(gzip.compress(bytes(data), mtime=0))


def decode_status_list(encoded: Any) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise CredentialError("encodedList is multibase base64url (it starts with 'u')")
    try:
        data = gzip.decompress(unb64url(encoded[1:]))
    except (OSError, EOFError) as exc:
        raise CredentialError("encodedList is not GZIP data") from exc
    if len(data) * 8 < STATUS_LIST_BITS:
        raise CredentialError(f"a status list holds at least {STATUS_LIST_BITS} entries")
    return data


def status_bit(data: bytes, index: int) -> bool:
    if not 0 <= index < len(data) * 8:
        raise CredentialError(f"status index {index} is outside the list")
    return bool(data[index // 8] & (0x80 >> (index % 8)))


def status_list_credential(*, issuer: str, url: str, purpose: str, encoded: str,
                           valid_from: str) -> dict[str, Any]:
    return {"@context": [VC_CONTEXT], "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": issuer, "validFrom": valid_from,
            "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                                  "statusPurpose": purpose, "encodedList": encoded}}


def status_entry(*, url: str, purpose: str, index: int) -> dict[str, Any]:
    return {"id": f"{url}#{index}", "type": "BitstringStatusListEntry",
            "statusPurpose": purpose, "statusListIndex": str(index),
            "statusListCredential": url}
