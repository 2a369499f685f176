"""The transparency log's costs, each beside a baseline measured in the same run.

- Proofs on a stored synthetic log: the Merkle tree of ``entries`` leaves written straight
  into ``event_log_nodes`` (every complete subtree, as appending stores them), then
  inclusion and consistency proofs for random entries and sizes, through the same
  ``tlog`` functions the API calls, each in its own read transaction. Baseline: one
  primary-key read of the same table per transaction.
- The same proofs planned and folded over an in-memory tree of 100 million entries (the
  work besides the one database query), with the number of stored hashes each reads.
- Appending: ``eventlog.append`` one request each (the baseline: it does no tree work),
  then the catch-up that hashes those entries into the stored tree.

Nothing here asserts a time.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from benchmarks.measure import Samples, peak_rss_mb
from benchmarks.runner import ROOT, fresh_database
from stewardship.core import eventlog, merkle, tlog
from stewardship.core.auth import system_actor
from stewardship.core.db import make_engine, make_sessionmaker, transaction

Say = Callable[[str], None]
BATCH = 50_000


def synthetic_leaf(i: int) -> bytes:
    return merkle.leaf_hash(i.to_bytes(8, "big"))


def write_tree(engine: Engine, entries: int, say: Say) -> None:
    """The stored subtrees of a log of ``entries`` synthetic leaves: every complete,
    aligned subtree, as appending stores them, written a level at a time (each level from
    the one below, kept in memory: 32 bytes a node) so that rows go in in key order, in
    batches through the driver's ``executemany``."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert_sql = (f"INSERT INTO {tlog.LogNode.__tablename__} (level, idx, hash) "
                  f"VALUES ({mark}, {mark}, {mark})")
    below = bytearray()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            # A bulk load into a file of the benchmark's own: no fsync per commit.
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -1000000")
        level, count = 0, entries
        while count:
            here = bytearray()
            rows: list[tuple[int, int, bytes]] = []
            for idx in range(count):
                if level == 0:
                    h = synthetic_leaf(idx)
                else:
                    at = idx * 64
                    h = merkle.node_hash(bytes(below[at:at + 32]), bytes(below[at + 32:at + 64]))
                here += h
                rows.append((level, idx, h))
                if len(rows) >= BATCH:
                    cursor.executemany(insert_sql, rows)
                    rows.clear()
                if idx and idx % 10_000_000 == 0:
                    say(f"  level {level}: {idx:,} of {count:,} nodes written")
            if rows:
                cursor.executemany(insert_sql, rows)
            raw.commit()
            below, level, count = here, level + 1, count // 2
        cursor.close()
    finally:
        raw.close()


def _proofs(engine: Engine, entries: int, n: int, rng: random.Random) -> dict[str, Any]:
    factory = make_sessionmaker(engine)
    inclusion, consistency, baseline = Samples(), Samples(), Samples()
    table = tlog.LogNode.__table__
    for _ in range(n):
        index = rng.randrange(entries)
        with baseline.timed(), transaction(factory, write=False) as db:
            db.execute(select(table.c.hash).where(table.c.level == 0, table.c.idx == index)
                       ).one()
        with inclusion.timed(), transaction(factory, write=False) as db:
            tlog.inclusion_proof(db, index, entries)
        first = rng.randrange(1, entries)
        with consistency.timed(), transaction(factory, write=False) as db:
            tlog.consistency_proof(db, first, entries)
    inc, con, base = inclusion.summary(), consistency.summary(), baseline.summary()
    return {"entries": entries, "proofs": n, "inclusion": inc, "consistency": con,
            "point_read": base,
            "inclusion_p99_over_point_read_p99": round(inc["p99_ms"] / base["p99_ms"], 2),
            "consistency_p99_over_point_read_p99": round(con["p99_ms"] / base["p99_ms"], 2)}


def _planned_at(entries: int, n: int, rng: random.Random) -> dict[str, Any]:
    """Plan, fetch from a dictionary and fold, at a size no test database holds: every
    hash a proof reads is made up (the work per proof does not depend on their values)."""
    def node(level: int, index: int) -> bytes:
        return hashlib.sha256(f"{level}/{index}".encode()).digest()

    inclusion, consistency = Samples(), Samples()
    reads = []
    for _ in range(n):
        index = rng.randrange(entries)
        with inclusion.timed():
            ranges = merkle.inclusion_ranges(index, entries)
            wanted = merkle.plan(ranges)
            merkle.assemble(ranges, {k: node(*k) for k in wanted})
        reads.append(len(wanted))
        first = rng.randrange(1, entries)
        with consistency.timed():
            ranges = merkle.consistency_ranges(first, entries)
            merkle.assemble(ranges, {k: node(*k) for k in merkle.plan(ranges)})
    return {"entries": entries, "inclusion": inclusion.summary(),
            "consistency": consistency.summary(), "stored_hashes_read_max": max(reads)}


def _appends(engine: Engine, n: int) -> dict[str, Any]:
    """Appends one request each (they do no tree work), then the catch-up that hashes
    them into the stored tree, as the next checkpoint runs it: the tree's share of the
    write path is the catch-up's time over the appends' time."""
    factory = make_sessionmaker(engine)
    actor = system_actor("bench")
    samples = Samples()
    start = time.perf_counter()
    for i in range(n):
        with samples.timed(), transaction(factory) as db:
            eventlog.append(db, actor, "bench.append", f"item:{i}", {"i": i})
    appending = time.perf_counter() - start
    start = time.perf_counter()
    with transaction(factory) as db:
        size = tlog.catch_up(db)
    hashing = time.perf_counter() - start
    return {"appends": n, "per_s": round(n / appending, 1), **samples.summary(),
            "tree_size": size, "catch_up_seconds": round(hashing, 3),
            "catch_up_per_s": round(n / hashing, 1),
            "with_tree_share_of_without": round(appending / (appending + hashing), 3)}


def reuse_ok(engine: Engine, entries: int) -> bool:
    """Whether the database already holds the complete stored tree of ``entries`` leaves
    (its last leaf and its top node), as a run with ``reuse`` left it."""
    table = tlog.LogNode.__table__
    top = entries.bit_length() - 1
    with engine.connect() as conn:
        last = conn.execute(select(table.c.idx).where(table.c.level == 0)
                            .order_by(table.c.idx.desc()).limit(1)).scalar()
        crown = conn.execute(select(table.c.idx).where(table.c.level == top)
                             .order_by(table.c.idx.desc()).limit(1)).scalar()
    return last == entries - 1 and crown == (entries >> top) - 1


def kept_tree(entries: int) -> Engine | None:
    """The SQLite file of an earlier run, where it holds the tree of ``entries`` leaves:
    writing 100 million leaves takes the better part of an hour."""
    path = ROOT / "var" / "bench" / "tlog.db"
    if not path.exists():
        return None
    engine = make_engine(f"sqlite:///{path}")
    if reuse_ok(engine, entries):
        return engine
    engine.dispose()
    return None


def run_tlog(db: str = "sqlite", *, entries: int = 1 << 20, proofs: int = 500,
             appends: int = 1000, url: str | None = None, seed: int = 42,
             reuse: bool = False, say: Say = print) -> dict[str, Any]:
    rng = random.Random(seed)
    out: dict[str, Any] = {"db": db, "seed": seed}
    engine = kept_tree(entries) if reuse and db == "sqlite" else None
    if engine is not None:
        say(f"Measuring on the stored tree of {entries:,} entries an earlier run wrote")
    else:
        engine = fresh_database("tlog", db, url)
    try:
        if not reuse_ok(engine, entries):
            say(f"Writing the tree of a synthetic log of {entries:,} entries")
            start = time.perf_counter()
            write_tree(engine, entries, say)
            out["tree_written_seconds"] = round(time.perf_counter() - start, 1)
        say(f"Measuring {proofs} inclusion and consistency proofs")
        out["stored"] = _proofs(engine, entries, proofs, rng)
    finally:
        engine.dispose()
    out["planned_100m"] = _planned_at(100_000_000, proofs, rng)
    # Appends on a log of their own: the synthetic tree has no entries behind it.
    engine = fresh_database("tlog-append", db, url)
    try:
        say(f"Measuring {appends} appends and their catch-up into the tree")
        out["appends"] = _appends(engine, appends)
    finally:
        engine.dispose()
    out["peak_rss_mb"] = peak_rss_mb()
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"tlog-{db}.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def summary_lines(out: dict[str, Any]) -> list[str]:
    s, p, a = out["stored"], out["planned_100m"], out["appends"]
    return [
        f"inclusion proof, {s['entries']:,} stored entries: p99 {s['inclusion']['p99_ms']} ms "
        f"({s['inclusion_p99_over_point_read_p99']}x a point read, p99 "
        f"{s['point_read']['p99_ms']} ms)",
        f"consistency proof, {s['entries']:,} stored entries: p99 "
        f"{s['consistency']['p99_ms']} ms ({s['consistency_p99_over_point_read_p99']}x)",
        f"proofs planned and folded at 100,000,000 entries: inclusion p99 "
        f"{p['inclusion']['p99_ms']} ms, consistency p99 {p['consistency']['p99_ms']} ms, "
        f"at most {p['stored_hashes_read_max']} stored hashes read",
        f"appends: {a['per_s']}/s; their catch-up into the tree: {a['catch_up_per_s']}/s; "
        f"append rate with the tree's work counted: {a['with_tree_share_of_without']} of "
        "without it",
    ]


if __name__ == "__main__":  # pragma: no cover - `stewardship bench --tlog` runs it
    for line in summary_lines(run_tlog(entries=1 << 16, proofs=200, appends=300)):
        print(line)
