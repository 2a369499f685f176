"""Reports from the ledger: an entity's annual CoC report (printable), and for the
secretariat the network's flows between activities as a Sankey diagram with the links
the three-entity competition rule hides, and the conservation audit on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.templating import sentence
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor
from stewardship.custody import charts, report_export
from stewardship.custody.schemas import AnnualReport, AuditResult
from stewardship.custody.service import audit, reads, reports
from stewardship.custody.views.common import (
    MATERIAL_LABELS,
    EntityChoice,
    QueryText,
    Short,
    absolute,
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


@dataclass(frozen=True)
class _Report:
    report: AnnualReport | None
    choice: EntityChoice
    options: list[tuple[str, str]]
    problem: str
    code: int


def _report(db: Session, actor: Actor, entity: str, year: str) -> _Report:
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
    return _Report(report, choice, options, problem, code)


@router.get("/custody/report")
def annual_report(request: Request, db: DbSession, actor: OptionalActor,
                  entity: QueryText = "", year: QueryText = "") -> Response:
    actor = require(actor, action="see CoC reports")
    found = _report(db, actor, entity, year)
    query = ""
    if found.report is not None:
        query = urlencode({"entity": str(found.report.entity.entity_id),
                           "year": found.report.year})
    return render(request, "custody/report.html", {
        "report": found.report, "choice": found.choice, "entity_options": found.options,
        "year": year.strip() or str(today().year), "problem": found.problem,
        "material_labels": MATERIAL_LABELS, "query": query,
        "years": [str(y) for y in range(today().year, today().year - 6, -1)],
    }, found.code)


def _exported(db: Session, actor: Actor | None, entity: str, year: str) -> AnnualReport:
    actor = require(actor, action="export CoC reports")
    found = _report(db, actor, entity, year)
    if found.report is None:
        raise InvalidInput(found.problem or "choose the entity whose report to export",
                           field="year" if found.problem else "entity")
    return found.report


@router.get("/custody/report.csv")
def annual_report_csv(db: DbSession, actor: OptionalActor, entity: QueryText = "",
                      year: QueryText = "") -> Response:
    report = _exported(db, actor, entity, year)
    return Response(report_export.report_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="'
                                                    f'{report_export.filename(report, "csv")}"'})


@router.get("/custody/report.pdf")
def annual_report_pdf(request: Request, db: DbSession, actor: OptionalActor,
                      entity: QueryText = "", year: QueryText = "") -> Response:
    report = _exported(db, actor, entity, year)
    page = absolute(request, "/custody/report?" + urlencode(
        {"entity": str(report.entity.entity_id), "year": report.year}))
    return Response(report_export.report_pdf(report, page), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="'
                                                    f'{report_export.filename(report, "pdf")}"'})


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
        "stage_labels": reports.STAGE_LABELS,
        "result": result, "years": [str(y) for y in range(today().year, today().year - 6, -1)],
    }
    return render(request, "custody/network.html", context, code)


@router.get("/custody/flows")
def published_flows(request: Request, db: DbSession, year: QueryText = "") -> Response:
    """Public: the flows as published, only links with at least three contributors."""
    wanted = whole_number(year, today().year)
    flows, problem, code = None, "", 200
    try:
        if wanted is None:
            problem, code = "The year is a whole number such as 2024.", 422
        else:
            flows = reports.published_flows(db, wanted)
    except DomainError as exc:
        reraise_access(exc)
        problem, code = sentence(exc.message), exc.status_code
    return render(request, "custody/flows.html", {
        "flows": flows, "year": year.strip() or str(today().year), "problem": problem,
        "svg": charts.sankey(flows.links, reports.STAGES, reports.STAGE_LABELS)
        if flows else "",
        "stage_labels": reports.STAGE_LABELS,
        "years": [str(y) for y in range(today().year, today().year - 6, -1)],
    }, code)


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
