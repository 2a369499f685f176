"""The benchmark suite's own checks, on its tiny world: the bulk-loaded ledger is one the
conservation audit accepts, one seed always makes one world (whichever way the rows are
written), and the measured phases run on it through the services. No timings asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import bulk, measure, measure_batch, measure_capture
from benchmarks.runner import targets
from benchmarks.world import SCALES, generate
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from stewardship.core import issuance
from stewardship.core.auth import system_actor
from stewardship.core.tlog import verify_tree
from stewardship.custody.models import CocDocument, Movement
from stewardship.custody.service.audit import audit
from tests.conftest import scratch_database

TINY = SCALES["tiny"]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


def test_the_tiny_world_audits_and_the_phases_run_on_it(scratch_engine: Engine) -> None:
    world = generate(scratch_engine, TINY, seed=42)
    assert world.counts["movements"] > 1000 and world.counts["documents"] > 100
    assert world.chain_roots, "documents with a nine-tier chain behind them"
    with Session(scratch_engine) as db:
        result = audit(db, system_actor("tests"))
        assert result.ok, result.problems[:5]
        assert result.movements == world.counts["movements"]
        assert db.scalar(select(func.count()).select_from(Movement)) == result.movements
        in_transit = db.scalar(select(func.count()).select_from(CocDocument)
                               .where(CocDocument.status == "issued"))
    assert in_transit, "December's last shipments are still on their way"
    with Session(scratch_engine) as db:
        tree = verify_tree(db, [])
        assert tree.ok, tree.problems[:5]
        assert tree.size > world.counts["event log entries"]  # the setup's entries too

    out = {"scale": "tiny", "db": scratch_engine.dialect.name, "load": {}, "measures": {
        "capture": measure.measure_capture(scratch_engine, world, 300, _quiet,
                                           per_document=150),
        "issue": measure.measure_issue(scratch_engine, world, 6, _quiet),
        "issue_batch": measure_batch.measure_issue_batch(scratch_engine, world, 40, _quiet),
        "reads": measure.measure_reads(scratch_engine, world, 5, _quiet),
        "chain": measure.measure_chain(scratch_engine, world, 2, _quiet),
        "capture_ledger": measure_capture.measure_ledger_capture(
            scratch_engine, world, 40, _quiet, per_round=5),
        "close": measure.measure_close(scratch_engine, world, _quiet),
        "audit": measure.measure_audit(scratch_engine, world)}}
    m = out["measures"]
    if "status" not in m["capture"]:  # the EPCIS repository is there
        assert m["capture"]["events"] == 300 and m["capture"]["raw"]["events"] == 300
    assert m["issue"]["documents"] == 6 and m["issue"]["raw"]["documents"] == 6
    assert m["issue_batch"]["documents"] == 40 and m["issue_batch"]["raw"]["documents"] == 40
    assert m["reads"]["account"]["n"] == 5 and m["reads"]["document"]["n"] == 5
    assert m["chain"]["depth_reached"] == {"8": 2}
    ledger = m["capture_ledger"]
    assert ledger["refused"] == 0, ledger["refusals"]
    assert ledger["by_kind"]["shipping"] == ledger["by_kind"]["receiving"] == 10
    assert ledger["raw"]["events"] == ledger["events"]
    assert m["close"]["entities"] == len(world.members)
    assert m["audit"]["ok"], m["audit"]["problems"]
    # The services appended onto the loaded tree, and each CoC document's credential
    # signed a checkpoint with the platform's key.
    with Session(scratch_engine) as db:
        tree = verify_tree(db, [issuance.current_issuer().signer.verifier])
        assert tree.checkpoints >= 6
        assert tree.ok, tree.problems[:5]
    assert all(t["target_setting"] is False for t in targets(out))


def test_one_seed_makes_one_world(tmp_path: Path) -> None:
    """Two generations with the same seed give identical rows, even when one writes
    through the driver with the columns' processors and the other through Core insert();
    another seed gives another world."""
    digests = []
    for seed, fast in ((7, True), (7, False), (8, True)):
        with scratch_database("sqlite", tmp_path) as engine:
            generate(engine, TINY, seed=seed, writer=bulk.BulkWriter(engine, fast=fast))
            digests.append(bulk.digest(engine))
    assert digests[0] == digests[1]
    assert digests[0]["custody_movements"] != digests[2]["custody_movements"]


def test_every_generated_row_has_every_column() -> None:
    with pytest.raises(ValueError, match="missing"):
        bulk.complete("coc_documents", {"number": "COC-2025-X"})


@pytest.mark.parametrize(("db", "minutes", "met"), [("postgresql", "<= 15", False),
                                                    ("sqlite", "<= 30", True)])
def test_the_world_load_is_held_to_its_engines_target(db: str, minutes: str,
                                                      met: bool) -> None:
    """Issue 16: the world's year in 15 minutes on PostgreSQL, 30 on SQLite; the line is
    the target's setting at the world scale only."""
    load = {"seconds": 20 * 60, "cpu_seconds": 18 * 60, "peak_rss_mb": 900}
    for scale, setting in (("world", True), ("medium", False)):
        lines = {t["what"]: t for t in targets({"scale": scale, "db": db, "measures": {},
                                                "load": load})}
        line = lines["world load, minutes"]
        assert (line["target"], line["measured"], line["met"]) == (minutes, 20.0, met)
        assert line["target_setting"] is setting
