"""The conservation audit: every balance recomputed from its movements, every account's
counters recomputed from its journal and agreeing with its balance and origin pool, every
operation's legs being the ones its journal row calls for and summing to zero, every CoC
document agreeing with its operations and with the digest the event log recorded at issue
(record checks in ``audit_records``), every transformation within its declared yield and
physics, and across the network no material received beyond what was issued. Each break
names the table, the record, the entity and the period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.eventlog import ChainReport
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.footprints import rules as footprint_rules
from stewardship.custody.plausibility import rules as physics
from stewardship.custody.rules import Balance, CocMaterial, Period
from stewardship.custody.schemas import AuditBreak, AuditFlag, AuditResult
from stewardship.custody.service import audit_records, common
from stewardship.custody.service.audit_records import (
    COUNTERS,
    AccountKey,
    Accounts,
    Break,
    uuid_of,
)
from stewardship.registry import repository as registry_repo

Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


def audit(db: Session, actor: Actor | None, *, progress: Progress = _quiet,
          walked: tuple[ChainReport, audit_records.LogReader] | None = None) -> AuditResult:
    """Run the whole audit (the secretariat, or the platform from the CLI). ``walked``:
    the event log as a caller already read it (``stewardship verify`` walks it once for
    every context)."""
    require(actor, Role.SECRETARIAT, action="run the custody audit")
    breaks: list[Break] = []
    plain: list[str] = []
    movements = repo.movement_count(db)
    progress("movements", 0, movements)
    sums = repo.movement_sums_by_account(db)
    progress("movements", movements, movements)
    rows = []
    by_key: dict[AccountKey, tuple[str, date]] = {}
    for row in repo.all_accounts(db):
        counters = [getattr(row, name) for name in COUNTERS]
        rows.append((row.id, row.entity_id, row.material, row.period_start, row.period_end,
                     row.balance_kg, sum(row.carried or ()), counters, row.pool,
                     common.balance(row)))
        by_key[(row.entity_id.hex, row.material, row.period_start)] = (row.id.hex,
                                                                        row.period_end)
    accounts = Accounts(by_key=by_key, by_id={v[0]: k for k, v in by_key.items()})
    found = audit_records.check(db, accounts, progress, walked)
    breaks += found.breaks
    balances: list[tuple[object, Balance]] = []
    for n, (aid, eid, material, start, end, stored, carried, counters, pool, b) in enumerate(
            rows, 1):
        period = Period(start, end)

        entry = found.account_entries.get((eid.hex, material, start))

        def fail(problem: str, eid: object = eid, material: str = material,
                 period: Period = period, entry: int | None = entry) -> None:
            breaks.append(Break("material_accounts", f"{material} account", eid,  # type: ignore[arg-type]
                                period, problem, entry))

        from_movements = sums.pop(aid, 0)
        if from_movements != stored:
            fail(f"stored balance {stored} kg but its movements sum to {from_movements} kg")
        carried_in, out, lost = counters[0], counters[-2], counters[-1]
        counted = b.kilograms - out - lost
        if counted != stored:
            fail(f"counters give {counted} kg but the balance is {stored} kg")
        if carried != carried_in:
            fail(f"carried {carried} kg by period but {carried_in} kg in all")
        journal = found.counters.pop((eid.hex, material, start), [0] * len(COUNTERS))
        for name, value, wanted in zip(COUNTERS, counters, journal, strict=True):
            if value != wanted:
                fail(f"{name} is {value} kg but its journal gives {wanted} kg")
        origins = dict(pool or {})
        carried_fp = origins.pop("footprint", None)  # checked apart, against the balance
        try:
            pooled: int | None = rules.pool_from_data(origins).kilograms
        except (ValueError, TypeError) as error:
            pooled = None
            fail(f"its origin pool cannot be read: {error}")
        if pooled is not None and pooled != stored:
            fail(f"origins account for {pooled} kg of a {stored} kg balance")
        if carried_fp is not None:
            try:
                covered = footprint_rules.from_data(carried_fp).kilograms
            except (ValueError, TypeError, AttributeError) as error:
                fail(f"its footprint cannot be read: {error}")
            else:
                if covered != stored:
                    fail(f"its footprint covers {covered} kg of a {stored} kg balance")
        if stored < 0:
            fail(f"negative balance {stored} kg")
        balances.append((eid, b))
        if n % 10_000 == 0:
            progress("accounts", n, len(rows))
    progress("accounts", len(rows), len(rows))
    for account_id in sums:
        breaks.append(Break("custody_movements", f"account {account_id}", None, None,
                            "movements name an account that does not exist"))
    for (eid, material, start), values in found.counters.items():
        if any(values):
            breaks.append(Break("material_accounts", f"{material} account", uuid_of(eid),
                                Period(start, start),
                                "the journal moves kilograms through an account that "
                                "does not exist",
                                found.account_entries.get((eid, material, start))))
    entity_ids = {eid for _, eid, *_rest in rows} | {
        b.entity_id for b in breaks if b.entity_id is not None}
    names = common.Names(db, list(entity_ids))

    def who(entity_id: object) -> str:
        party = names.party(entity_id)  # type: ignore[arg-type]
        return f"{party.entity} ({party.organization})"

    ends = {(eid, start): end for (_, eid, _, start, end, *_rest) in rows}
    transforms = [physics.TransformRecord(
        entity=who(uuid_of(op.entity_id)),
        period=Period(op.period_start, ends.get((uuid_of(op.entity_id), op.period_start),
                                                op.period_start)),
        transformation=rules.Transformation(op.transformation or ""),
        input_kg=op.input_kg or 0, output_kg=op.kilograms,
        declared=op.declared_yield if op.declared_yield is not None else Decimal(0),
        total_input_kg=op.total_input_kg, total_output_kg=op.total_output_kg)
        for op in found.transformations]
    progress("transformations", len(transforms), len(transforms))
    # Network-wide receipts against issues are checked per document (_network): summing
    # balances by period would misorder entities whose periods differ in length.
    plain += physics.conservation_breaks([(who(e), b) for e, b in balances], transforms,
                                       network=False)
    plain += _network(repo.document_totals(db))
    progress("network", 1, 1)
    listed = [AuditBreak(table=b.table, record=b.record,
                         entity=who(b.entity_id) if b.entity_id is not None else "",
                         period=b.period.label if b.period is not None else "",
                         problem=b.problem, entry=b.entry) for b in breaks]
    problems = [_sentence(b) for b in listed] + plain
    flags = plausibility(db)
    progress("plausibility", len(flags), len(flags))
    return AuditResult(ok=not problems, accounts=len(rows), movements=movements,
                       documents=repo.document_count(db), problems=problems, breaks=listed,
                       flags=flags)


def plausibility(db: Session) -> list[AuditFlag]:
    """What the books hold that is physically implausible without breaking the balance:
    an entity's output in a period at a facility beyond that facility's capacity for the
    activity (prorated to the period), and a period's yield of a step far from the
    typical one. Flags, not breaks: an override or a capacity lowered later explains the
    first, an unusual process the second."""
    groups = list(repo.output_by_facility(db))
    facilities = registry_repo.facilities_by_ids(db, list({g.facility_id for g in groups}))
    settings = repo.settings_of_entities(db, list({g.entity_id for g in groups}))
    output: dict[tuple[Any, date, Any, str], int] = {}
    steps: dict[tuple[Any, date, str], list[int]] = {}
    for g in groups:
        facility = facilities.get(g.facility_id)
        step = rules.Transformation(g.transformation) if g.transformation else None
        if step is not None:
            pair = steps.setdefault((g.entity_id, g.period_start, step.value), [0, 0])
            pair[0] += int(g.input_kg)
            pair[1] += int(g.output_kg)
        if facility is None:
            continue
        activity = physics.output_activity(
            facility.activities, transformation=step,
            material=CocMaterial(g.material) if g.kind == "production" else None)
        if activity is not None and activity in facility.capacities:
            key = (g.entity_id, g.period_start, g.facility_id, activity)
            output[key] = output.get(key, 0) + int(g.output_kg)
    names = common.Names(db, list({g.entity_id for g in groups}))

    def where(entity_id: Any, start: date) -> tuple[str, Period]:
        party = names.party(entity_id)
        own = settings.get(entity_id)
        months = own.period_months if own is not None else rules.DEFAULT_PERIOD_MONTHS
        return f"{party.entity} ({party.organization})", rules.period_for(start, months)

    flags = []
    for (entity_id, start, facility_id, activity), kg in sorted(
            output.items(), key=lambda item: (str(item[0][0]), item[0][1], str(item[0][2]),
                                              item[0][3])):
        facility = facilities[facility_id]
        who, period = where(entity_id, start)
        problem = physics.capacity_flag(facility.capacities[activity], period, kg)
        if problem:
            flags.append(AuditFlag(
                kind="capacity", entity=who, period=period.label,
                facility=facility.public_id, subject=activity,
                problem=f"{facility.name} ({facility.public_id}), {activity}: {problem}"))
    for (entity_id, start, step), (taken, made) in sorted(
            steps.items(), key=lambda item: (str(item[0][0]), item[0][1], item[0][2])):
        problem = physics.yield_flag(rules.Transformation(step), taken, made)
        if problem:
            who, period = where(entity_id, start)
            flags.append(AuditFlag(kind="yield", entity=who, period=period.label,
                                   facility="", subject=step, problem=problem))
    return flags


def flag_sentence(flag: AuditFlag) -> str:
    return f"{flag.entity}, {flag.period}: {flag.problem}"


def _sentence(b: AuditBreak) -> str:
    where = ", ".join(part for part in (b.entity, b.period) if part)
    return f"{b.table} {b.record}" + (f" ({where})" if where else "") + f": {b.problem}"


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
