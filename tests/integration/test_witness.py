"""A witness run as its operator would run it: ``stewardship witness`` against a real
``stewardship serve``, cosigning consistent checkpoints and refusing, loudly, a log whose
history was rewritten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.http_load import serve_live
from sqlalchemy import Engine

from stewardship.core import eventlog, notes, tlog
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.core.keys import new_seed, parse_seed
from tests.conftest import scratch_database
from tests.factories import SYSTEM

ORIGIN = "witness-test.example/log"
WITNESS = "firm.example/witness"
CHECKOUT = Path(__file__).resolve().parents[2]


def _grow(engine: Engine, n: int, tag: str, signer: notes.Signer) -> int:
    with transaction(make_sessionmaker(engine)) as db:
        for i in range(n):
            eventlog.append(db, SYSTEM, "tests.witness", f"{tag}:{i}", {"i": i})
        return tlog.make_checkpoint(db, signer, ORIGIN).size


def _register(engine: Engine, vkey: str) -> None:
    with transaction(make_sessionmaker(engine)) as db:
        tlog.register_witness(db, vkey, "system:tests")


def _witness(base: str, key: Path, state: Path, log_vkey: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT / "src"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from stewardship.cli import main; main()", "witness",
         "--log", base, "--key-file", str(key), "--name", WITNESS, "--state", str(state),
         "--log-vkey", log_vkey], env=env, capture_output=True, text=True, timeout=120)


def test_the_witness_cosigns_consistent_checkpoints_and_refuses_a_rewrite(
        tmp_path: Path) -> None:
    log_key = tmp_path / "log.key"
    log_key.write_text(new_seed() + "\n")
    signer = notes.Signer(ORIGIN, parse_seed(log_key.read_text(), "log key"))
    witness_key = tmp_path / "witness.key"
    witness_key.write_text(new_seed() + "\n")
    witness_public = parse_seed(witness_key.read_text(), "witness key").public_key()
    wv = notes.witness_verifier(WITNESS, witness_public)
    state = tmp_path / "state.json"
    env = {"STEWARDSHIP_LOG_KEY_FILE": str(log_key), "STEWARDSHIP_LOG_ORIGIN": ORIGIN,
           "STEWARDSHIP_CHECKPOINT_EVERY_MINUTES": "0"}

    with scratch_database("sqlite", tmp_path) as engine:
        _register(engine, wv.vkey)
        assert _grow(engine, 10, "a", signer) == 10
        url = engine.url.render_as_string(hide_password=False)
        with serve_live(url, extra_env=env, log=tmp_path / "server.log") as base:
            first = _witness(base, witness_key, state, signer.verifier.vkey)
            assert first.returncode == 0, first.stderr
            assert "Cosigned the checkpoint of 10 entries (first checkpoint seen)" in first.stdout
            assert _grow(engine, 5, "b", signer) == 15
            second = _witness(base, witness_key, state, signer.verifier.vkey)
            assert second.returncode == 0, second.stderr
            assert "consistent with 10 entries" in second.stdout
        with transaction(make_sessionmaker(engine), write=False) as db:
            served = tlog.checkpoint_at(db, 15).note
        note, _ = notes.open_note(served, signer.verifier)
        cosig = next(s for s in note.signatures if s.name == WITNESS)
        notes.verify_cosignature(note.text, cosig, wv)

    # Another history under the same key and origin: what a rewritten database would serve.
    with scratch_database("sqlite", tmp_path) as engine:
        _register(engine, wv.vkey)
        assert _grow(engine, 20, "rewritten", signer) == 20
        url = engine.url.render_as_string(hide_password=False)
        with serve_live(url, extra_env=env, log=tmp_path / "server2.log") as base:
            refused = _witness(base, witness_key, state, signer.verifier.vkey)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "REFUSED: THE LOG IS NOT CONSISTENT" in refused.stderr
        assert "not consistent with the one at 15" in refused.stderr
        with transaction(make_sessionmaker(engine), write=False) as db:
            assert WITNESS not in tlog.checkpoint_at(db, 20).note
    # The witness still holds the last checkpoint it vouched for.
    assert '"size": 15' in state.read_text()
