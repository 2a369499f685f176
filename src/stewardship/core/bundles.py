"""Verification bundles: everything a buyer needs to check a credential offline.

A bundle is one JSON object:

- ``credential``: the VC as a compact JWS (``application/vc+jwt``);
- ``didDocument``: the issuer's DID document at the time (every key, current and retired);
- ``statusLists``: each status-list credential the VC points at, as a compact JWS;
- ``checkpoint``: a signed checkpoint of the platform's log, with witness cosignatures;
- ``logEntry``: the bytes of the log entry that recorded the credential (base64);
- ``inclusionProof``: that entry's audit path in the checkpoint's tree.

``verify_bundle`` runs every check in order and returns one verdict (valid, suspended,
revoked, expired, tampered, unknown issuer or malformed) with the checks it ran, naming the first
that failed. It never raises on bad input: a part of the bundle of the wrong shape is
"malformed", named by the check that read it.

A verifier that knows the issuer's DID document (the platform checking a bundle handed to
it knows its own) passes it as ``known_documents``: the bundle's copy is then ignored, so a
bundle that carries a key of someone else's under the issuer's name does not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from stewardship.core import clock, merkle, notes
from stewardship.core import credentials as vc
from stewardship.core.eventlog import canonical_json

BUNDLE_TYPE = "StewardshipVerificationBundle"
MAX_BUNDLE_BYTES = 2_000_000
LOG_EVIDENCE = "TransparencyLogEntry"

Status = Literal["valid", "suspended", "revoked", "expired", "tampered", "unknown issuer",
                 "malformed"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    status: Status
    reason: str
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None

    @property
    def failed_check(self) -> str | None:
        return next((c.name for c in self.checks if not c.ok), None)


class _Stop(Exception):
    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def subject_digest(subject: Any) -> str:
    """The digest the log records for a credential's subject (as the event log digests any
    payload: SHA-256 of its canonical JSON, hex)."""
    return hashlib.sha256(canonical_json(subject).encode("utf-8")).hexdigest()


def log_evidence(*, origin: str, leaf_index: int, leaf_hash: bytes) -> dict[str, Any]:
    """What a credential says about the log entry that recorded it."""
    return {"type": [LOG_EVIDENCE], "origin": origin, "leafIndex": leaf_index,
            "leafHash": base64.b64encode(leaf_hash).decode()}


def make_bundle(*, credential: str, did_document: dict[str, Any],
                status_lists: dict[str, str], checkpoint: str, log_entry: bytes,
                leaf_index: int, tree_size: int, hashes: list[bytes]) -> dict[str, Any]:
    return {"type": BUNDLE_TYPE, "version": 1, "credential": credential,
            "didDocument": did_document, "statusLists": status_lists,
            "checkpoint": checkpoint, "logEntry": base64.b64encode(log_entry).decode(),
            "inclusionProof": {"leafIndex": leaf_index, "treeSize": tree_size,
                               "hashes": [base64.b64encode(h).decode() for h in hashes]}}


def parse_bundle(raw: bytes | str) -> dict[str, Any]:
    if len(raw) > MAX_BUNDLE_BYTES:
        raise _Stop("malformed", f"the bundle is larger than {MAX_BUNDLE_BYTES:,} bytes")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Stop("malformed", f"the bundle is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise _Stop("malformed", "the bundle nests its JSON too deeply") from exc
    if not isinstance(data, dict) or data.get("type") != BUNDLE_TYPE:
        raise _Stop("malformed", f"the file is not a {BUNDLE_TYPE}")
    for name in ("credential", "didDocument", "checkpoint", "logEntry", "inclusionProof"):
        if name not in data:
            raise _Stop("malformed", f"the bundle has no {name}")
    return data


class _Run:
    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.current = "bundle"
        """The check under way: the one a part of the wrong shape is reported under."""

    def start(self, name: str) -> None:
        self.current = name

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def fail(self, name: str, status: Status, detail: str) -> _Stop:
        self.checks.append(Check(name, False, detail))
        return _Stop(status, detail)


def _b64(run: _Run, text: Any, what: str) -> bytes:
    try:
        if not isinstance(text, str):
            raise binascii.Error(what)
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise run.fail(run.current, "malformed", f"{what} is not base64") from exc


def verify_bundle(raw: bytes | str, *, trusted_issuers: set[str] | None = None,
                  known_documents: dict[str, dict[str, Any]] | None = None,
                  now: datetime | None = None) -> Verdict:
    """Check a bundle offline. ``trusted_issuers``: the DIDs accepted as issuers (None
    accepts the bundle's own issuer, and says so). ``known_documents``: DID documents the
    verifier holds already, by DID; for those issuers the bundle's copy is not used."""
    run = _Run()
    credential: dict[str, Any] | None = None
    try:
        bundle = parse_bundle(raw)
        credential = _check(run, bundle, trusted_issuers, known_documents or {},
                            now or clock.now())
    except _Stop as stop:
        return Verdict(stop.status, stop.reason, run.checks, credential)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError,
            RecursionError):
        # A part of the bundle of a shape no check expected (a number for a list, say).
        reason = f"the bundle's data for the {run.current} check is not of the right shape"
        run.checks.append(Check(run.current, False, reason))
        return Verdict("malformed", reason, run.checks, credential)
    suspended = [c for c in run.checks if c.name.startswith("status") and "is set" in c.detail]
    if suspended:
        status: Status = "revoked" if "revocation" in suspended[0].name else "suspended"
        return Verdict(status, suspended[0].detail, run.checks, credential)
    return Verdict("valid", "every check passed", run.checks, credential)


def _check(run: _Run, bundle: dict[str, Any], trusted: set[str] | None,
           known: dict[str, dict[str, Any]], now: datetime) -> dict[str, Any]:
    run.start("credential format")
    try:
        token = vc.decode_jwt(str(bundle["credential"]))
    except vc.CredentialError as exc:
        raise run.fail("credential format", "malformed", str(exc)) from exc
    credential = token.payload
    run.start("issuer")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    document = bundle["didDocument"]
    if not isinstance(issuer_id, str) or not isinstance(document, dict):
        raise run.fail("issuer", "malformed", "the credential names no issuer")
    if document.get("id") != issuer_id:
        raise run.fail("issuer", "unknown issuer", f"the DID document is {document.get('id')}'s, "
                       f"the credential's issuer is {issuer_id}")
    if trusted is not None and issuer_id not in trusted:
        raise run.fail("issuer", "unknown issuer", f"{issuer_id} is not a trusted issuer")
    if issuer_id in known:
        document = known[issuer_id]
        whose = " (its keys as the issuer publishes them, not the bundle's copy)"
    else:
        whose = "" if trusted is not None else " (taken from the bundle, not pinned)"
    run.ok("issuer", issuer_id + whose)
    run.start("issuer key")
    try:
        key = vc.key_in_document(document, str(token.header["kid"]))
    except vc.CredentialError as exc:
        raise run.fail("issuer key", "unknown issuer", str(exc)) from exc
    run.start("credential signature")
    try:
        vc.verify_jwt(token, key)
    except vc.CredentialError as exc:
        raise run.fail("credential signature", "tampered", str(exc)) from exc
    run.ok("credential signature", f"signed by {token.header['kid']}")
    _check_dates(run, credential, now)
    _check_log(run, bundle, credential, document)
    _check_status(run, bundle, credential, document, issuer_id)
    return credential


def _check_dates(run: _Run, credential: dict[str, Any], now: datetime) -> None:
    def moment(name: str) -> datetime | None:
        value = credential.get(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise run.fail("validity period", "malformed", f"{name} is not a date") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    run.start("validity period")
    start, end = moment("validFrom"), moment("validUntil")
    if start is not None and now < start:
        raise run.fail("validity period", "tampered", f"not valid before {start:%Y-%m-%d}")
    if end is not None and now > end:
        raise run.fail("validity period", "expired", f"expired on {end:%Y-%m-%d}")
    run.ok("validity period", "within its validity period")


def _check_log(run: _Run, bundle: dict[str, Any], credential: dict[str, Any],
               document: dict[str, Any]) -> None:
    run.start("log entry")
    evidence = [e for e in credential.get("evidence") or []
                if isinstance(e, dict) and LOG_EVIDENCE in (e.get("type") or [])]
    if not evidence:
        raise run.fail("log entry", "tampered", "the credential names no log entry")
    claim = evidence[0]
    entry = _b64(run, bundle["logEntry"], "logEntry")
    leaf = merkle.leaf_hash(entry)
    if base64.b64encode(leaf).decode() != claim.get("leafHash"):
        raise run.fail("log entry", "tampered", "the log entry in the bundle is not the one "
                       "the credential names")
    try:
        fields = json.loads(entry)
        digest = fields[5]
    except (json.JSONDecodeError, UnicodeDecodeError, IndexError, TypeError, KeyError) as exc:
        raise run.fail("log entry", "malformed", "the log entry is not an event-log entry"
                       ) from exc
    if digest != subject_digest(credential.get("credentialSubject")):
        raise run.fail("log entry", "tampered", "the log recorded another subject than the "
                       "credential states")
    run.ok("log entry", f"entry {claim.get('leafIndex')} records this credential's subject")
    run.start("checkpoint")
    origin = str(claim.get("origin", ""))
    try:
        unverified = notes.parse(str(bundle["checkpoint"]))
        named = notes.parse_checkpoint(unverified.text).origin
    except notes.NoteError as exc:
        raise run.fail("checkpoint", "malformed", f"the checkpoint is not a signed "
                       f"checkpoint note: {exc}") from exc
    if named != origin:
        raise run.fail("checkpoint", "tampered", f"the checkpoint is of log {named}, not of "
                       f"log {origin} that recorded the credential")
    log_keys = []
    for method in document.get("verificationMethod") or []:
        try:
            log_keys.append(notes.Verifier(origin, notes.ED25519,
                                           vc.key_from_jwk(method.get("publicKeyJwk"))))
        except (vc.CredentialError, notes.NoteError, AttributeError):
            continue
    try:
        note, _ = notes.open_note(str(bundle["checkpoint"]), *log_keys)
        head = notes.parse_checkpoint(note.text)
    except notes.NoteError as exc:
        raise run.fail("checkpoint", "tampered", f"the checkpoint is not signed by the issuer "
                       f"for log {origin}: {exc}") from exc
    if head.origin != origin:
        raise run.fail("checkpoint", "tampered", f"the checkpoint is of log {head.origin}, "
                       f"not {origin}")
    witnesses = sum(1 for s in note.signatures if s.name != origin)
    run.ok("checkpoint", f"{head.size:,} entries, signed by the log"
           + (f", with {witnesses} witness cosignature(s)" if witnesses else ""))
    run.start("inclusion proof")
    proof = bundle["inclusionProof"]
    try:
        index, size = int(proof["leafIndex"]), int(proof["treeSize"])
        if not isinstance(proof["hashes"], list):
            raise TypeError("hashes")
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise run.fail("inclusion proof", "malformed", "the inclusion proof is incomplete"
                       ) from exc
    hashes = [_b64(run, h, "a hash of the inclusion proof") for h in proof["hashes"]]
    if index != claim.get("leafIndex") or size != head.size:
        raise run.fail("inclusion proof", "tampered", "the proof is for another entry or tree")
    try:
        merkle.verify_inclusion(leaf, index, size, hashes, head.root_hash)
    except merkle.ProofError as exc:
        raise run.fail("inclusion proof", "tampered", str(exc)) from exc
    run.ok("inclusion proof", f"entry {index} is in the signed tree of {size:,}")


def _check_status(run: _Run, bundle: dict[str, Any], credential: dict[str, Any],
                  document: dict[str, Any], issuer: str) -> None:
    entries = credential.get("credentialStatus") or []
    entries = entries if isinstance(entries, list) else [entries]
    lists = bundle.get("statusLists") or {}
    run.start("status")
    if not isinstance(lists, dict):
        raise run.fail("status", "malformed", "statusLists is not an object of lists by "
                       "address")
    for entry in entries:
        if not isinstance(entry, dict):
            raise run.fail("status", "malformed", "a credentialStatus entry is not an object")
        purpose = str(entry.get("statusPurpose"))
        name = f"status ({purpose})"
        run.start(name)
        url = entry.get("statusListCredential")
        if not isinstance(url, str) or url not in lists:
            raise run.fail(name, "malformed", f"the bundle has no status list {url}")
        try:
            token = vc.decode_jwt(str(lists[url]))
            list_vc = token.payload
            if list_vc.get("issuer") != issuer:
                raise vc.CredentialError(f"the status list is issued by {list_vc.get('issuer')},"
                                         f" not by {issuer}")
            vc.verify_jwt(token, vc.key_in_document(document, str(token.header["kid"])))
            subject = list_vc.get("credentialSubject") or {}
            if subject.get("statusPurpose") != purpose or list_vc.get("id") != url:
                raise vc.CredentialError("the status list is for another purpose or address")
            bits = vc.decode_status_list(subject.get("encodedList"))
            set_ = vc.status_bit(bits, int(entry.get("statusListIndex", -1)))
        except (vc.CredentialError, ValueError) as exc:
            raise run.fail(name, "tampered", str(exc)) from exc
        stamp = list_vc.get("validFrom", "?")
        if set_:
            run.ok(name, f"the {purpose} bit is set in the list of {stamp}")
        else:
            run.ok(name, f"not {'revoked' if purpose == 'revocation' else 'suspended'} "
                   f"in the list of {stamp}")
