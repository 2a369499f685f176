"""The secretariat's integrity page: the whole database held against the event log, and
the log against its signed checkpoints, as ``stewardship verify`` checks it.

The page shows the last check kept (when it ran, who ran it, the tables counted, the
problems page by page, optionally of one table); opening it or paging through it reads
that run, never the database again. "Check now" runs a new check in its request and
keeps it as the latest run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from stewardship.core.auth import Role, require
from stewardship.core.pagination import Page
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    redirect,
    settings_of,
)
from stewardship.integrity import last_run, run_check, run_problems

router = APIRouter(include_in_schema=False)

URL = "/secretariat/integrity"
TableName = Annotated[str, Query(max_length=64)]


@router.get(URL)
def integrity_page(request: Request, db: DbSession, actor: OptionalActor,
                   paging: Pagination, table: TableName = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="check the database's integrity")
    run = last_run(db, actor)
    chosen = table.strip()
    page = None
    if run is not None and run.problem_count:
        items, total = run_problems(db, actor, run, table=chosen, offset=paging.offset,
                                    limit=paging.per_page)
        page = Page(items, total, paging.page, paging.per_page)
    response: Response = request.app.state.templates.render(request, "integrity.html", {
        "run": run, "tables": run.tables if run is not None else [], "page": page,
        "table": chosen})
    return response


@router.post(f"{URL}/check", dependencies=[CsrfChecked])
def check_now(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    run = run_check(db, actor, settings=settings_of(request))
    if run.ok:
        message = "The check ran: everything verifies."
    else:
        message = (f"The check ran: {run.problem_count} "
                   f"{'problem' if run.problem_count == 1 else 'problems'} found.")
    return redirect(request, URL, message, "success" if run.ok else "error")
