"""The conservation audit: every balance recomputed from its movements, every operation's
legs summing to zero, every account's counters and origin pool agreeing with its balance,
every transformation within its declared yield and physics, and across the network no
material received beyond what was issued. Each break names the entity and period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.rules import Balance, CocMaterial, Period, TransformRecord
from stewardship.custody.schemas import AuditResult
from stewardship.custody.service import common

Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


def audit(db: Session, actor: Actor | None, *, progress: Progress = _quiet) -> AuditResult:
    """Run the whole audit (the secretariat, or the platform from the CLI)."""
    require(actor, Role.SECRETARIAT, action="run the custody audit")
    problems: list[str] = []
    movements = repo.movement_count(db)
    progress("movements", 0, movements)
    sums = repo.movement_sums_by_account(db)
    progress("movements", movements, movements)
    balances: list[tuple[str, Balance]] = []
    accounts = 0
    entity_ids = set()
    rows = []
    for row in repo.all_accounts(db):
        rows.append((row.id, row.entity_id, row.material, row.period_start, row.period_end,
                     row.balance_kg, row.carried_out, row.expired, row.pool,
                     common.balance(row)))
        entity_ids.add(row.entity_id)
    names = common.Names(db, list(entity_ids))

    def who(entity_id: object) -> str:
        party = names.party(entity_id)  # type: ignore[arg-type]
        return f"{party.entity} ({party.organization})"

    for (aid, eid, material, start, end, stored, out, lost, pool, b) in rows:
        accounts += 1
        where = f"{who(eid)}, {material}, {Period(start, end).label}"
        from_movements = sums.pop(aid, 0)
        if from_movements != stored:
            problems.append(f"{where}: stored balance {stored} kg but its movements sum to "
                            f"{from_movements} kg")
        counted = b.kilograms - out - lost
        if counted != stored:
            problems.append(f"{where}: counters give {counted} kg but the balance is "
                            f"{stored} kg")
        pooled = rules.pool_from_data(pool).kilograms
        if pooled != stored:
            problems.append(f"{where}: origins account for {pooled} kg of a {stored} kg "
                            "balance")
        if stored < 0:
            problems.append(f"{where}: negative balance {stored} kg")
        balances.append((who(eid), b))
        if accounts % 10_000 == 0:
            progress("accounts", accounts, len(rows))
    progress("accounts", accounts, len(rows))
    for account_id in sums:
        problems.append(f"movements name account {account_id}, which does not exist")
    for correlation, total in repo.unbalanced_correlations(db):
        problems.append(f"operation {correlation}: its legs sum to {total} kg, not 0")
    ends = {(eid, start): end for (_, eid, _, start, end, *_rest) in rows}
    transforms = [TransformRecord(
        entity=who(op.entity_id),
        period=Period(op.period_start, ends.get((op.entity_id, op.period_start),
                                                op.period_start)),
        transformation=rules.Transformation(op.transformation or ""),
        input_kg=op.input_kg or 0, output_kg=op.kilograms,
        declared=op.declared_yield if op.declared_yield is not None else Decimal(0))
        for op in repo.transformations(db)]
    progress("transformations", len(transforms), len(transforms))
    # Network-wide receipts against issues are checked per document (_network): summing
    # balances by period would misorder entities whose periods differ in length.
    problems += rules.conservation_breaks(balances, transforms, network=False)
    problems += _network(repo.document_totals(db))
    progress("network", 1, 1)
    return AuditResult(ok=not problems, accounts=accounts, movements=movements,
                       documents=repo.document_count(db), problems=problems)


def _network(totals: list[tuple[str, str, date, int]]) -> list[str]:
    """Per material, cumulatively by period: documents received never exceed documents
    issued (nothing arrives from nowhere)."""
    issued: dict[str, int] = {}
    received: dict[str, int] = {}
    out = []
    for material, status, period_start, kg in sorted(totals, key=lambda t: t[2]):
        if status in ("issued", "received"):
            issued[material] = issued.get(material, 0) + kg
        if status == "received":
            received[material] = received.get(material, 0) + kg
        if received.get(material, 0) > issued.get(material, 0):
            out.append(f"network, {CocMaterial(material).label}, up to the period from "
                       f"{period_start.isoformat()}: received {received[material]} kg "
                       f"exceeds issued {issued[material]} kg")
    return out
