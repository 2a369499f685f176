"""The "issue batch" phase: CoC documents issued through ``batch.issue_documents`` in
batches of 1,000 from year-end balances, one request (session, transaction, commit) per
batch, beside the raw insert of the same rows in the same run (``measure._raw_issue``:
documents, journal, legs, event-log entries, the accounts' new state). Also the table's
rows and the targets of issue 16 for both issuing phases, which ``runner`` adds to its
own."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from benchmarks import measure
from benchmarks.measure import LAST_DAY, Progress, Result, Samples, request
from benchmarks.world import Member, World
from stewardship.core.db import make_sessionmaker
from stewardship.custody.models import MaterialAccount
from stewardship.custody.schemas import MAX_BATCH, DocumentCreate
from stewardship.custody.service import batch

DOCUMENTS = {"tiny": 200, "small": 3_000, "medium": 5_000, "world": 5_000}
"""Documents the phase issues at each scale (in batches of up to 1,000)."""


def _balances(engine: Engine, members: list[Member]) -> dict[int, int]:
    """The year-end balance of each member's output as the database holds it now (the
    phases before this one spent some of it)."""
    table = MaterialAccount.__table__
    wanted = {(m.entity_id, m.kind.output, m.period(LAST_DAY).start): i
              for i, m in enumerate(members)}
    found: dict[int, int] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.entity_id, table.c.material, table.c.period_start,
                                   table.c.balance_kg)
                            .where(table.c.entity_id.in_([k[0] for k in wanted]),
                                   table.c.status == "open"))
        for entity_id, material, start, kg in rows:
            index = wanted.get((entity_id, material, start))
            if index is not None:
                found[index] = int(kg)
    return found


def plan(engine: Engine, world: World, n: int) -> list[tuple[Member, list[DocumentCreate]]]:
    """Batches of up to 1,000 documents, each from one member to its customers in turn,
    the members with the largest balances first; each document takes at most a quarter
    of the member's balance divided by the batch's size (and at most 1,000 kg)."""
    members = [m for m in world.members if m.customers]
    balances = _balances(engine, members)
    ranked = sorted(balances, key=lambda i: -balances[i])
    batches: list[tuple[Member, list[DocumentCreate]]] = []
    left = n
    for index in ranked:
        if left <= 0:
            break
        member = members[index]
        size = min(MAX_BATCH, left)
        coc = min(1_000, balances[index] // (4 * size))
        if coc < 1:
            continue
        customers = [world.members[c] for c in member.customers]
        batches.append((member, [DocumentCreate(
            recipient_entity_id=customers[i % len(customers)].entity_id,
            material=member.kind.output, quantity_kg=coc, coc_quantity_kg=coc,
            shipment_date=LAST_DAY, description="Benchmark batch lot")
            for i in range(size)]))
        left -= size
    return batches


def measure_issue_batch(engine: Engine, world: World, n: int, progress: Progress) -> Result:
    batches = plan(engine, world, n)
    if not batches:
        return {"status": "no member has the balance to issue from"}
    total = sum(len(items) for _, items in batches)
    factory = make_sessionmaker(engine)
    today = date.today()
    head = measure._event_head(engine)
    numbers: list[str] = []
    samples = Samples()
    progress("issuing batches", 0, total)
    start, cpu = time.perf_counter(), time.process_time()
    for member, items in batches:
        with samples.timed(), request(factory) as db:
            reads = batch.issue_documents(db, member.actor(), items, today=today)
        numbers += [r.number for r in reads]
        progress("issuing batches", len(numbers), total)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    raw = measure._raw_issue(engine, numbers, head)
    return {"documents": total, "batches": len(batches), "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "per_s": round(total / seconds, 1),
            "per_cpu_s": round(total / cpu, 1), "latency": samples.summary(), "raw": raw,
            "service_share_of_raw": round((total / seconds) / raw["per_s"], 4),
            "service_share_of_raw_cpu": round((total / cpu) / raw["per_cpu_s"], 4),
            "peak_rss_mb": measure.peak_rss_mb()}


ROWS: list[tuple[str, tuple[str, ...]]] = [
    ("issue batch of 1,000, documents/s (per CPU s)", ("measures", "issue_batch")),
    ("issue batch p50 / p99 per batch, ms", ("measures", "issue_batch", "latency")),
    ("issue batch raw insert of the same rows, documents/s (per CPU s)",
     ("measures", "issue_batch", "raw")),
    ("issue batch / raw (by CPU)", ("measures", "issue_batch")),
]
"""Rows of the results table, after the single issue's."""

Line = tuple[str, str, Any, Any, Callable[[Any], bool], bool]


def target_lines(m: dict[str, Any], applies: bool,
                 at_least: Callable[[float], Callable[[Any], bool]]) -> list[Line]:
    """Issue 16's ratios: a request each at >= 25% of the raw insert; a batch at >= 60%
    of it and >= 2,000 documents a second."""
    lines: list[Line] = []
    issue, many = m.get("issue", {}), m.get("issue_batch", {})
    if "service_share_of_raw" in issue:
        lines.append(("CoC documents issued a request each, share of the raw insert",
                      ">= 0.25", issue["service_share_of_raw"],
                      issue.get("service_share_of_raw_cpu"), at_least(0.25), applies))
    if "per_s" in many:
        lines += [("CoC documents issued in batches of 1,000, per s", ">= 2,000",
                   many["per_s"], many.get("per_cpu_s"), at_least(2_000), applies),
                  ("CoC documents issued in batches, share of the raw insert", ">= 0.60",
                   many["service_share_of_raw"], many.get("service_share_of_raw_cpu"),
                   at_least(0.60), applies)]
    return lines
