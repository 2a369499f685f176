"""Reports the platform produces from the ledger: an entity's annual CoC report (inputs
and outputs by material and activity) and, for the secretariat, the network's flows
between activities, aggregated so that no link shows fewer than three entities."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from decimal import ROUND_DOWN, Decimal

from sqlalchemy.orm import Session

from stewardship.core import labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import InvalidInput
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.plausibility import rules as plausibility
from stewardship.custody.repository import AccountFilter
from stewardship.custody.rules import CocMaterial
from stewardship.custody.schemas import (
    ActivityLine,
    AnnualReport,
    FlowLink,
    NetworkFlows,
    PeriodRead,
    ReportLine,
)
from stewardship.custody.service import common

MIN_CONTRIBUTORS = 3
_COUNTERS = ("carried_in", "produced", "received", "transformed_in", "non_coc_in", "issued",
             "transformed_out", "carried_out", "expired", "balance_kg")


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise InvalidInput("year is 2000 to 2100", field="year")


def annual_report(db: Session, actor: Actor | None, entity_id: uuid.UUID,
                  year: int) -> AnnualReport:
    """Inputs and outputs of every material over the periods starting in the year, and
    the transformations by kind; computed from the ledger, never typed in."""
    if actor is None:
        require(actor, action="see CoC reports")
    _check_year(year)
    entity = common.readable_entity(db, actor, entity_id)
    start, end = date(year, 1, 1), date(year, 12, 31)
    accounts = [a for a in repo.list_accounts(db, AccountFilter(entity_id=entity.id),
                                              PageParams(1, 10_000)).items
                if start <= a.period_start <= end]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0))
    periods: dict[tuple[date, date], str] = {}
    for a in accounts:
        for name in _COUNTERS:
            totals[a.material][name] += getattr(a, name)
        key = (a.period_start, a.period_end)
        periods[key] = "open" if a.status == "open" or periods.get(key) == "open" else "closed"
    lines = []
    for material in CocMaterial:
        if material.value not in totals:
            continue
        t = totals[material.value]
        coc_in = t["carried_in"] + t["produced"] + t["received"] + t["transformed_in"]
        lines.append(ReportLine(
            material=material.value, material_label=material.label,
            carried_in=t["carried_in"], produced=t["produced"], received=t["received"],
            transformed_in=t["transformed_in"], non_coc_in=t["non_coc_in"],
            issued=t["issued"], transformed_out=t["transformed_out"],
            carried_out=t["carried_out"], expired=t["expired"], closing_kg=t["balance_kg"],
            input_percentage=rules.input_percentage(coc_in, t["non_coc_in"])))
    steps: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    issued = received = 0
    journal = repo.operations_of(db, entity.id, start, end)
    undone = {op.reverses_id for op in journal if op.kind == "reversal"}
    for op in journal:
        if op.id in undone:  # reversed: as if never recorded
            continue
        if op.kind == "transformation":
            step = steps[(op.transformation or "", op.source_material or "", op.material)]
            step[0] += 1
            step[1] += op.input_kg or 0
            step[2] += op.kilograms
            # Rows from before totals were recorded took CoC input and output only.
            step[3] += op.total_input_kg if op.total_input_kg is not None else op.input_kg or 0
            step[4] += op.total_output_kg if op.total_output_kg is not None else op.kilograms
        elif op.kind == "issue":
            issued += 1
        elif op.kind == "receipt":
            received += 1
    activities = [ActivityLine(
        transformation=t, source_material=src, material=m, operations=n, input_kg=i,
        output_kg=o, average_yield=(Decimal(o) / Decimal(i)).quantize(
            Decimal("0.0001"), rounding=ROUND_DOWN) if i else Decimal(0),
        typical_yield=rules.typical_yield(rules.Transformation(t)).label,
        total_input_kg=ti, total_output_kg=to,
        yield_flag=plausibility.yield_flag(rules.Transformation(t), ti, to))
        for (t, src, m), (n, i, o, ti, to) in sorted(steps.items())]
    return AnnualReport(
        entity=common.Names(db, [entity.id]).party(entity.id), year=year,
        periods=[PeriodRead(period_start=s, period_end=e, status=st)
                 for (s, e), st in sorted(periods.items())],
        materials=lines, activities=activities, documents_issued=issued,
        documents_received=received, generated_at=utcnow())


# --- network flows ----------------------------------------------------------------------

STAGES = ("bauxite_mining", "alumina_refining", "smelting", "remelting_refining", "casthouse",
          "semi_fabrication", "material_conversion", "other_manufacturing", "industrial_user")
STAGE_LABELS = dict(labels.NETWORK_STAGES)
_MATERIAL_FROM = {"asi_bauxite": ("bauxite_mining",), "asi_alumina": ("alumina_refining",),
                  "eligible_scrap": ("remelting_refining",)}


def _issuer_stage(material: str, activities: list[str]) -> str:
    """Where the material leaves from: for metal, the most downstream activity held."""
    if material in _MATERIAL_FROM:
        return _MATERIAL_FROM[material][0]
    held = [s for s in STAGES[2:] if s in activities]
    return held[-1] if held else "other"


def _recipient_stage(source: str, activities: list[str]) -> str:
    """Where it arrives: the recipient's first activity downstream of the source."""
    after = STAGES[STAGES.index(source) + 1:] if source in STAGES else STAGES
    held = [s for s in after if s in activities]
    return held[0] if held else "other"


def network_flows(db: Session, actor: Actor | None, year: int) -> NetworkFlows:
    """CoC kilograms shipped in the year between activities, per material, for the
    secretariat: every link, each marked whether the public view publishes it (at least
    three issuing entities contribute to it)."""
    require(actor, Role.SECRETARIAT, action="see network flows")
    return _flows(db, year)


def published_flows(db: Session, year: int) -> NetworkFlows:
    """The same flows as published to anyone: only the links at least three issuing
    entities contribute to, so that no member's trade can be read from a link."""
    every = _flows(db, year)
    return every.model_copy(update={"links": [ln for ln in every.links if ln.published]})


def _flows(db: Session, year: int) -> NetworkFlows:
    _check_year(year)
    rows = repo.flows(db, date(year, 1, 1), date(year, 12, 31))
    orgs = {uuid.UUID(r[0]) for r in rows} | {uuid.UUID(r[1]) for r in rows}
    activities = repo.activities_of_organizations(db, list(orgs))
    kilograms: dict[tuple[str, str, str], int] = defaultdict(int)
    contributors: dict[tuple[str, str, str], set[uuid.UUID]] = defaultdict(set)
    for issuer_org, recipient_org, material, issuer_entity, kg in rows:
        source = _issuer_stage(material, activities.get(uuid.UUID(issuer_org), []))
        target = _recipient_stage(source, activities.get(uuid.UUID(recipient_org), []))
        key = (source, target, material)
        kilograms[key] += kg
        contributors[key].add(issuer_entity)
    links = [FlowLink(source=s, target=t, material=m, kilograms=kg,
                      contributors=len(contributors[(s, t, m)]),
                      published=len(contributors[(s, t, m)]) >= MIN_CONTRIBUTORS)
             for (s, t, m), kg in sorted(kilograms.items())]
    return NetworkFlows(year=year, minimum_contributors=MIN_CONTRIBUTORS, links=links,
                        hidden_links=sum(1 for ln in links if not ln.published))
