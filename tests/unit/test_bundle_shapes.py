"""Whatever a bundle holds in place of one of its parts, verifying it gives a verdict (never
an exception), and a verdict other than valid names the check that failed; a DID document
the verifier knows already wins over the bundle's copy."""

from __future__ import annotations

import copy
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stewardship.core import bundles
from stewardship.core import credentials as vc
from tests.unit.test_bundles import DID, KID, NOW, World

WORLD = World()
BASE = WORLD.bundle()
STATUSES = {"valid", "suspended", "revoked", "expired", "tampered", "unknown issuer",
            "malformed"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the bundle's JSON a value sits (not inside the signed tokens)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


PATHS = _paths(BASE)


def _replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_any_part_replaced_by_any_json_gets_a_verdict(path: tuple[Any, ...],
                                                      value: Any) -> None:
    verdict = bundles.verify_bundle(json.dumps(_replaced(path, value)), now=NOW,
                                    trusted_issuers={DID})
    assert verdict.status in STATUSES
    if verdict.status not in ("valid", "suspended", "revoked") and verdict.checks:
        assert verdict.failed_check is not None, (path, value, verdict)


def test_a_known_did_document_wins_over_the_bundles_copy() -> None:
    forger = Ed25519PrivateKey.generate()
    forged_doc = vc.did_document(DID, [("key-1", forger.public_key())])
    credential = vc.decode_jwt(BASE["credential"]).payload
    forged = {**BASE, "didDocument": forged_doc,
              "credential": vc.sign_jwt(credential, forger, KID)}
    known = {DID: WORLD.document}
    verdict = bundles.verify_bundle(json.dumps(forged), now=NOW, trusted_issuers={DID},
                                    known_documents=known)
    assert (verdict.status, verdict.failed_check) == ("tampered", "credential signature")
    assert "not the bundle's copy" in verdict.checks[0].detail
    # The genuine bundle verifies against the same known document.
    genuine = bundles.verify_bundle(json.dumps(BASE), now=NOW, trusted_issuers={DID},
                                    known_documents=known)
    assert genuine.status == "valid", genuine.checks
