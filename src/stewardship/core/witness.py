"""A witness of the platform's transparency log (``stewardship witness``).

An accredited audit firm, or anyone the secretariat registers, runs it against the platform.
Each run:

1. fetches the latest checkpoint and verifies the log's signature with the log key the
   witness trusts (given once, then kept in its state file);
2. if it saw a checkpoint before, fetches the consistency proof from that size to the new one
   and checks it: a log that shrank, forked, or rewrote anything before the old size is
   refused, loudly, and nothing is cosigned;
3. cosigns the new checkpoint (C2SP tlog-cosignature, Ed25519) and hands the cosignature to
   the platform, which serves it with the checkpoint;
4. keeps the new checkpoint as the one it last saw.

The transport is two functions (GET text, POST JSON), so the same witness runs over HTTP
(``http_transport``) and inside tests.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stewardship.core import merkle, notes

Get = Callable[[str], tuple[int, bytes]]
Post = Callable[[str, dict[str, Any]], tuple[int, bytes]]


class Inconsistent(Exception):
    """The log showed this witness something that contradicts what it saw before."""


class WitnessError(Exception):
    """The run could not complete (the log is unreachable, or refused the cosignature)."""


@dataclass
class State:
    log_vkey: str
    origin: str | None = None
    size: int | None = None
    root_hash: str | None = None

    @classmethod
    def load(cls, path: Path, log_vkey: str | None) -> State:
        if path.exists():
            data = json.loads(path.read_text())
            state = cls(**data)
            if log_vkey and log_vkey != state.log_vkey:
                raise WitnessError("the state file trusts another log key; the log's key "
                                   "changed: check with the secretariat before trusting it")
            return state
        if not log_vkey:
            raise WitnessError("first run: give the log's verifier key (--log-vkey)")
        return cls(log_vkey=log_vkey)

    def save(self, path: Path) -> None:
        temp = path.with_suffix(path.suffix + ".tmp")
        temp.write_text(json.dumps(self.__dict__, indent=2) + "\n")
        os.replace(temp, path)


@dataclass(frozen=True)
class Outcome:
    size: int
    previous: int | None
    cosignature: str


def run_once(get: Get, post: Post, state: State, signer: notes.Signer,
             now: Callable[[], float] = time.time) -> Outcome:
    """One round; raises ``Inconsistent`` (and cosigns nothing) on a split or a rewrite."""
    status, body = get("/log/checkpoint")
    if status != 200:
        raise WitnessError(f"the log answered {status} for its checkpoint")
    log_key = notes.parse_vkey(state.log_vkey)
    try:
        note, _ = notes.open_note(body, log_key)
    except notes.NoteError as exc:
        raise Inconsistent(f"the checkpoint is not signed by the trusted log key: {exc}") from exc
    head = notes.parse_checkpoint(note.text)
    if state.origin is not None and head.origin != state.origin:
        raise Inconsistent(f"the checkpoint's origin changed from {state.origin} to "
                           f"{head.origin}")
    previous = state.size
    if previous is not None and state.root_hash is not None:
        old_root = base64.b64decode(state.root_hash)
        if head.size < previous:
            raise Inconsistent(f"the log shrank from {previous} to {head.size} entries")
        if head.size == previous:
            if head.root_hash != old_root:
                raise Inconsistent(f"two different roots for {previous} entries: the log "
                                   "forked or rewrote its history")
        else:
            status, raw = get(f"/api/v1/log/proof/consistency?first={previous}"
                              f"&second={head.size}")
            if status != 200:
                raise WitnessError(f"the log answered {status} for a consistency proof")
            proof = [base64.b64decode(h) for h in json.loads(raw)["hashes"]]
            try:
                merkle.verify_consistency(previous, head.size, old_root, head.root_hash, proof)
            except merkle.ProofError as exc:
                raise Inconsistent(f"the checkpoint at {head.size} entries is not consistent "
                                   f"with the one at {previous} this witness signed: {exc}"
                                   ) from exc
    line = notes.cosign(note.text, signer, int(now())).line
    status, raw = post(f"/api/v1/log/checkpoints/{head.size}/cosignatures",
                       {"cosignature": line})
    if status not in (200, 201):
        raise WitnessError(f"the log refused the cosignature ({status}): "
                           f"{raw.decode(errors='replace')[:300]}")
    state.origin, state.size = head.origin, head.size
    state.root_hash = base64.b64encode(head.root_hash).decode()
    return Outcome(head.size, previous, line)


def http_transport(base_url: str, timeout: float = 30) -> tuple[Get, Post]:
    base = base_url.rstrip("/")

    def call(request: urllib.request.Request) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(f"cannot reach the log at {base}: {exc}") from exc

    def get(path: str) -> tuple[int, bytes]:
        return call(urllib.request.Request(base + path))

    def post(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        return call(urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                           headers={"content-type": "application/json"},
                                           method="POST"))

    return get, post
