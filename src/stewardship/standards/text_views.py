"""The full text of a standard version: one page with every principle and criterion (its
requirement, parts, applicability, thresholds and guidance) under a table of contents, and
the same as a PDF. Public, like the rest of the library."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from stewardship.core.params import VersionNumber
from stewardship.core.templating import label
from stewardship.core.web import DbSession, OptionalActor, public_base_url
from stewardship.registry.rules import Activity, MembershipClass
from stewardship.standards.pdf import version_pdf
from stewardship.standards.schemas import PrincipleRead
from stewardship.standards.service import library

router = APIRouter(include_in_schema=False)

ACTIVITY_LABELS = {a.value: a.label for a in Activity}
CLASS_LABELS = {m.value: m.label for m in MembershipClass}
Slug = Annotated[str, Path(max_length=80)]


def _groups(principles: list[PrincipleRead]) -> list[tuple[str, list[PrincipleRead]]]:
    out: list[tuple[str, list[PrincipleRead]]] = []
    for p in principles:
        if not out or out[-1][0] != p.group:
            out.append((p.group, []))
        out[-1][1].append(p)
    return out


@router.get("/standards/{slug}/v{version:int}/full-text")
def full_text_page(request: Request, db: DbSession, actor: OptionalActor, slug: Slug,
                   version: VersionNumber) -> Response:
    data = library.get_version(db, slug, version)
    standard = next(s for s in library.list_standards(db) if s.slug == slug)
    summary = next(v for v in standard.versions if v.version == version)
    context: dict[str, Any] = {
        "version": data, "summary": summary, "groups": _groups(data.principles),
        "labels": {"activity": ACTIVITY_LABELS, "class": CLASS_LABELS},
        "count": sum(len(p.criteria) for p in data.principles)}
    response: Response = request.app.state.templates.render(
        request, "standards/full_text.html", context)
    return response


@router.get("/standards/{slug}/v{version:int}/full-text.pdf")
def full_text_pdf(request: Request, db: DbSession, slug: Slug,
                  version: VersionNumber) -> Response:
    data = library.get_version(db, slug, version)
    url = f"{public_base_url(request)}/standards/{slug}/v{version}/full-text"
    body = version_pdf(data, url, activity_label=lambda a: ACTIVITY_LABELS.get(a, label(a)),
                       class_label=lambda m: CLASS_LABELS.get(m, label(m)), group_label=label)
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{slug}-v{version}.pdf"'})
