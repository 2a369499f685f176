"""Signed notes, checkpoints and cosignatures against the C2SP formats."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stewardship.core import notes
from stewardship.core.notes import NoteError

# The example of C2SP signed-note, section "Verifier keys".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n\u2014 example.com/foo "
             "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6"
             "TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")


def signer(name: str = "stewardship.example/log") -> notes.Signer:
    return notes.Signer(name, Ed25519PrivateKey.generate())


def test_the_specifications_example_verifies() -> None:
    verifier = notes.parse_vkey(SPEC_VKEY)
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.vkey == SPEC_VKEY
    note, good = notes.open_note(SPEC_NOTE, verifier)
    assert note.text == "This is an example message.\n"
    assert good == [verifier]
    with pytest.raises(NoteError, match="does not verify"):
        notes.open_note(SPEC_NOTE.replace("example message", "exemplary message"), verifier)


def test_sign_and_open_round_trip_and_ignore_unknown_keys() -> None:
    log, other = signer(), signer("other.example/log")
    text = "line one\n\nline three after a blank line\n"
    note = notes.sign(text, other, log)
    parsed, good = notes.open_note(note, log.verifier)
    assert parsed.text == text and good == [log.verifier]
    assert note.endswith("\n") and note.count("\u2014 ") == 2
    with pytest.raises(NoteError, match="no signature of a known key"):
        notes.open_note(notes.sign(text, other), log.verifier)
    # Same name, different key: the id differs, so the line is ignored, not trusted.
    impostor = notes.Signer(log.name, Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature of a known key"):
        notes.open_note(notes.sign(text, impostor), log.verifier)


def test_malformed_notes_are_refused_with_the_reason() -> None:
    log = signer()
    good = notes.sign("a\n", log)
    cases = {
        "a\n": "blank line",
        good.rstrip("\n"): "ends with a newline",
        good.replace("\u2014 ", "-- "): "em dash",
        good.replace("/log ", "/log !"): "base64",
        "a\tb\n\n" + good.split("\n\n")[1]: "control characters",
    }
    for text, reason in cases.items():
        with pytest.raises(NoteError, match=reason):
            notes.open_note(text, log.verifier)
    with pytest.raises(NoteError, match="ends with a newline"):
        notes.sign("no newline", log)
    with pytest.raises(NoteError, match="without spaces"):
        notes.Signer("bad name", Ed25519PrivateKey.generate()).verifier.key_id  # noqa: B018
    with pytest.raises(NoteError, match="UTF-8"):
        notes.parse(b"\xff\n\n")


def test_vkeys_are_checked() -> None:
    verifier = notes.parse_vkey(SPEC_VKEY)
    with pytest.raises(NoteError, match="three parts"):
        notes.parse_vkey("example.com/foo+530d903a")
    with pytest.raises(NoteError, match="does not match"):
        notes.parse_vkey(SPEC_VKEY.replace("530d903a", "530d903b"))
    with pytest.raises(NoteError, match="hex / base64"):
        notes.parse_vkey("example.com/foo+zz+AA==")
    raw = base64.b64decode(SPEC_VKEY.split("+")[2])
    with pytest.raises(NoteError, match="type 0x01 or 0x04"):
        wrong_type = base64.b64encode(bytes([7]) + raw[1:]).decode()
        notes.parse_vkey(f"example.com/foo+530d903a+{wrong_type}")
    assert verifier.signature_type == notes.ED25519


def test_checkpoint_text_round_trip_and_refusals() -> None:
    cp = notes.Checkpoint("stewardship.example/log", 20852163, bytes(range(32)))
    assert cp.text == ("stewardship.example/log\n20852163\n"
                       + base64.b64encode(bytes(range(32))).decode() + "\n")
    assert notes.parse_checkpoint(cp.text) == cp
    assert notes.parse_checkpoint(cp.text.replace("20852163", "0")).size == 0
    for bad, reason in [(cp.text.replace("20852163", "020852163"), "leading zeros"),
                        ("a\n1\n", "three non-empty lines"),
                        (cp.text.replace("AAEC", "AAE"), "base64|32 bytes"),
                        ("a\n1\n" + base64.b64encode(bytes(31)).decode() + "\n", "32 bytes")]:
        with pytest.raises(NoteError, match=reason):
            notes.parse_checkpoint(bad)


def test_cosignature_signs_time_and_checkpoint() -> None:
    cp = notes.Checkpoint("stewardship.example/log", 7, bytes(32)).text
    witness = notes.Signer("witness.example/w1", Ed25519PrivateKey.generate())
    wv = notes.witness_verifier(witness.name, witness.private_key.public_key())
    sig = notes.cosign(cp, witness, 1679315147)
    material = base64.b64decode(wv.vkey.split("+", 2)[2])
    assert material[0] == 0x04
    assert sig.key_id == notes.key_id(witness.name, 0x04, material[1:])
    assert sig.signature[:8] == (1679315147).to_bytes(8, "big")
    assert notes.verify_cosignature(cp, sig, wv) == 1679315147
    assert notes.cosigned_message(cp, 5).startswith(b"cosignature/v1\ntime 5\nstewardship")
    other = notes.Checkpoint("stewardship.example/log", 8, bytes(32)).text
    with pytest.raises(NoteError, match="does not verify"):
        notes.verify_cosignature(other, sig, wv)
    # A cosignature line rides on the checkpoint note beside the log's own signature.
    log = signer()
    note = notes.sign(cp, log).rstrip("\n") + "\n" + sig.line
    parsed, _ = notes.open_note(note, log.verifier)
    line = next(s for s in parsed.signatures if s.name == witness.name)
    assert notes.verify_cosignature(parsed.text, line, wv) == 1679315147
    with pytest.raises(NoteError, match="between 0 and"):
        notes.cosign(cp, witness, -1)
