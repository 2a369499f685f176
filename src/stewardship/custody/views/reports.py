"""Reports from the ledger: an entity's annual CoC report (printable), and for the
secretariat the network's flows between activities as a Sankey diagram with the links
the three-entity competition rule hides, and the conservation audit on demand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError
from stewardship.core.templating import sentence
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor
from stewardship.custody import charts
from stewardship.custody.schemas import AuditResult
from stewardship.custody.service import audit, reads, reports
from stewardship.custody.views.common import (
    MATERIAL_LABELS,
    EntityChoice,
    QueryText,
    Short,
    choose_entity,
    entity_options,
    pick,
    render,
    reraise_access,
    today,
    whole_number,
)

router = APIRouter(include_in_schema=False)


# --- the annual report ------------------------------------------------------------------


@router.get("/custody/report")
def annual_report(request: Request, db: DbSession, actor: OptionalActor,
                  entity: QueryText = "", year: QueryText = "") -> Response:
    actor = require(actor, action="see CoC reports")
    if actor.is_secretariat():
        everyone = reads.member_entities(db, actor)
        choice = EntityChoice(everyone, pick(everyone, entity) if entity.strip() else None)
        options = [(str(e.entity_id), f"{e.entity} ({e.organization_name})")
                   for e in everyone]
    else:
        choice = choose_entity(db, actor, entity)
        options = entity_options(choice.entities)
    wanted = whole_number(year, today().year)
    report, problem, code = None, "", 200
    try:
        if wanted is None:
            problem, code = "The year is a whole number such as 2024.", 422
        elif choice.selected is not None:
            report = reports.annual_report(db, actor, choice.selected.entity_id, wanted)
    except DomainError as exc:
        reraise_access(exc)
        problem, code = sentence(exc.message), exc.status_code
    return render(request, "custody/report.html", {
        "report": report, "choice": choice, "entity_options": options,
        "year": year.strip() or str(today().year), "problem": problem,
        "material_labels": MATERIAL_LABELS,
        "years": [str(y) for y in range(today().year, today().year - 6, -1)],
    }, code)


# --- the network ------------------------------------------------------------------------


def _network_page(request: Request, db: Session, actor: Actor, year: str, *,
                  result: AuditResult | None = None) -> Response:
    wanted = whole_number(year, today().year)
    flows, problem, code = None, "", 200
    try:
        if wanted is None:
            problem, code = "The year is a whole number such as 2024.", 422
        else:
            flows = reports.network_flows(db, actor, wanted)
    except DomainError as exc:
        reraise_access(exc)
        problem, code = sentence(exc.message), exc.status_code
    context: dict[str, Any] = {
        "flows": flows, "year": year.strip() or str(today().year), "problem": problem,
        "svg": charts.sankey(flows.links, reports.STAGES, reports.STAGE_LABELS)
        if flows else "",
        "stage_labels": reports.STAGE_LABELS, "material_labels": MATERIAL_LABELS,
        "result": result, "years": [str(y) for y in range(today().year, today().year - 6, -1)],
    }
    return render(request, "custody/network.html", context, code)


@router.get("/custody/network")
def network(request: Request, db: DbSession, actor: OptionalActor,
            year: QueryText = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="see the custody network")
    return _network_page(request, db, actor, year)


@router.post("/custody/network/audit", dependencies=[CsrfChecked])
def run_audit(request: Request, db: DbSession, actor: OptionalActor,
              year: Short = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="run the custody audit")
    result = audit.audit(db, actor)
    return _network_page(request, db, actor, year, result=result)
